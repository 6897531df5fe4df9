/*
 * kyoyu: the command-line binary. All behaviour lives in the library (src/cli/).
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return ky_cli_main(argc, argv);
}
