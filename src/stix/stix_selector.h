/*
 * stix_selector: the parts of an object that granular markings select (STIX 2.1 §7.2.3.1),
 * and their removal. A selector names a property, list indexes as [n], separated by dots:
 * "description", "external_references.[1].url".
 *
 * Removal is for the policy's granular markings (docs/policy.md): a viewer that may not
 * read a part gets the object without it, still a valid object. Pure functions; thread-safe.
 */
#ifndef KY_STIX_SELECTOR_H
#define KY_STIX_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Selectors deeper than this select nothing here (no STIX property nests so far). */
#define KY_STIX_SELECTOR_DEPTH 16

/* The value `selector` names in object (borrowed), or NULL when it names nothing there or is
 * not a selector. */
const json_t *ky_stix_select(const json_t *object, const char *selector);

/*
 * Removes from object (changed in place) the parts the n selectors name, and leaves the rest
 * a valid object: a property whose list is left empty goes too, and the granular markings
 * that stay follow the removal: their selectors into a removed part go, list indexes after a
 * removed item shift down, a granular marking left without selectors goes, and
 * granular_markings goes when none stays. Selectors that name nothing are ignored.
 * KY_OK or KY_ENOMEM (object is then partly changed: the caller drops it).
 */
int ky_stix_remove_selected(json_t *object, const char *const *selectors, size_t n);

#endif
