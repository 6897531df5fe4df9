/*
 * council: who is in the council and who may change it. The operations on members, users,
 * groups, keys and rules that the operator's commands (kyoyu member ..., --db) and the
 * native API (/api/v1/...) both perform, each written once here: the caller is checked
 * against the roles and tiers (docs/council.md has the table), the input against what a
 * valid name, country, contact or reason is, and the change goes to the store with who made
 * it, how and why (store_council.h), which records it.
 *
 * Who may do what:
 * - The operator (a command on the database) and secretariat admins run the hub: every
 *   member, user, group, key and the rules.
 * - A member's admin manages its own member's users and keys.
 * - Everyone manages its own keys and accepts the rules.
 * - The secretariat's staff (any role) read the council: members, users, groups with their
 *   members. Others read only their own member and the groups it is in, never who else is
 *   in one.
 * What a caller may not see does not exist for it (KY_ENOTFOUND, as for anything absent);
 * what it sees but may not do is KY_EDENIED. Messages name the field and what was expected.
 *
 * Thread safety: as the store connection given (one thread at a time).
 */
#ifndef KY_COUNCIL_H
#define KY_COUNCIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "store/store_council.h"

/* Who calls: the operator (who == NULL), or an authenticated user; `via` says how (a command
 * or an API route) and goes to the record of changes. */
typedef struct ky_council_caller {
	const ky_auth_identity *who;
	const char *via;
} ky_council_caller;

/* Who makes a change as caller, for the record of changes (the operator: no user). */
ky_store_actor ky_council_actor(const ky_council_caller *c);

/* --- checks, for the commands' and the API's messages ----------------------------------------- */

/* A member's or group's name: 1 to 64 letters, digits, '.', '_' or '-', starting with a
 * letter or digit. `what` ("member", "group") leads the message of KY_EINVALID. */
int ky_council_check_name(const char *what, const char *name);

/* A reason for a change: 1 to KY_STORE_REASON_MAX bytes of text (UTF-8, no control
 * characters but tab), not only spaces. KY_EINVALID saying so. */
int ky_council_check_reason(const char *reason);

/* The tier or role a name means, KY_EINVALID listing the known ones otherwise. */
int ky_council_tier(const char *name, ky_tier *out);
int ky_council_role(const char *name, ky_role *out);

/* --- members ------------------------------------------------------------------------------- */

/* A member to add: title NULL for the name; country, contact NULL for none. */
typedef struct ky_council_member_new {
	const char *name, *title, *country, *contact;
	ky_tier tier;
	const char *const *sectors;
	size_t nsectors;
} ky_council_member_new;

/* Adds a member (the hub runners only). KY_EINVALID for a field that is not valid (a sector
 * the hub does not keep among them, the message listing those it keeps), KY_EEXISTS,
 * KY_EDENIED. */
int ky_council_member_add(ky_store *s, const ky_council_caller *c, const ky_council_member_new *m, const char *reason,
			  ky_store_member *out);

/* The member `name` as the caller may see it (the secretariat: any; others: their own). */
int ky_council_member_get(ky_store *s, const ky_council_caller *c, const char *name, ky_store_member *out);

/* Lists members (the secretariat's staff only: KY_EDENIED for others), as
 * ky_store_member_list(). */
int ky_council_member_list(ky_store *s, const ky_council_caller *c, const char *after, size_t limit,
			   int (*fn)(void *ctx, const ky_store_member *m), void *ctx, bool *more);

/* Changes a member's tier and/or suspends or resumes it (the hub runners only). */
int ky_council_member_set(ky_store *s, const ky_council_caller *c, const char *name, const ky_tier *tier,
			  const bool *suspended, const char *reason, ky_store_member *out);

/* --- users --------------------------------------------------------------------------------- */

/*
 * Adds user `name` (ky_auth_user_valid) to member `member` (NULL: the caller's) with `role`.
 * The hub runners add to any member, a member's admin to its own only (another member does
 * not exist for it). Users the operator adds to a secretariat member are recorded as having
 * accepted the rules in force.
 */
int ky_council_user_add(ky_store *s, const ky_council_caller *c, const char *name, const char *member, ky_role role,
			const char *reason, ky_store_user *out);

/* The user `name` as the caller may see it: itself; its member's users for an admin; any for
 * the secretariat's staff. */
int ky_council_user_get(ky_store *s, const ky_council_caller *c, const char *name, ky_store_user *out);

/* Lists users: of member `member` (NULL: every member for the secretariat's staff, the
 * caller's own member for a member's admin). Others: KY_EDENIED. */
int ky_council_user_list(ky_store *s, const ky_council_caller *c, const char *member, const char *after, size_t limit,
			 int (*fn)(void *ctx, const ky_store_user *u), void *ctx, bool *more);

/* Changes a user's role and/or disables it: the hub runners for anyone, a member's admin for
 * its member's users. */
int ky_council_user_set(ky_store *s, const ky_council_caller *c, const char *name, const ky_role *role, bool disable,
			const char *reason, ky_store_user *out);

/* --- groups -------------------------------------------------------------------------------- */

/* Creates a group; adds or removes a member (the hub runners only). *changed (may be NULL)
 * says whether membership changed. */
int ky_council_group_create(ky_store *s, const ky_council_caller *c, const char *name, const char *reason,
			    ky_store_group *out);
int ky_council_group_member(ky_store *s, const ky_council_caller *c, const char *group, const char *member, bool add,
			    const char *reason, bool *changed);

/* The group `name` as the caller may see it (the secretariat: any; others: the groups their
 * member is in); *sees_members (may be NULL) says whether the caller may see its members. */
int ky_council_group_get(ky_store *s, const ky_council_caller *c, const char *name, ky_store_group *out,
			 bool *sees_members);

/* Lists groups: every group for the secretariat's staff, those its member is in for others. */
int ky_council_group_list(ky_store *s, const ky_council_caller *c, const char *after, size_t limit,
			  int (*fn)(void *ctx, const ky_store_group *g), void *ctx, bool *more);

/* Whether the caller may see who is in groups (the secretariat's staff and the operator). */
bool ky_council_sees_group_members(const ky_council_caller *c);

/* --- keys ---------------------------------------------------------------------------------- */

/*
 * Makes a key for user `user` (NULL: the caller): anyone for itself, a member's admin for
 * its member's users, the hub runners for anyone. key_out as ky_auth_key_create(); *owner
 * (may be NULL) gets the user.
 */
int ky_council_key_create(ky_store *s, const ky_council_caller *c, const char *user, const char *reason,
			  char key_out[KY_AUTH_KEY_MAX], ky_store_user *owner);

/* Lists the keys the caller may manage (its own; its member's for an admin; all for the hub
 * runners), as ky_store_key_list(). */
int ky_council_key_list(ky_store *s, const ky_council_caller *c, int (*fn)(void *ctx, const ky_store_key *k),
			void *ctx);

/* Revokes the key of prefix `prefix` if the caller may manage it (others' keys do not exist
 * for it). */
int ky_council_key_revoke(ky_store *s, const ky_council_caller *c, const char *prefix, const char *reason,
			  ky_store_key *out);

/* --- rules --------------------------------------------------------------------------------- */

/* Sets a new version of the rules (the hub runners only): text[0..len), valid UTF-8, not
 * empty. */
int ky_council_rules_set(ky_store *s, const ky_council_caller *c, const char *text, size_t len, const char *reason,
			 int64_t *version);

/* Records that the calling user accepts rules version `version` (the one in force), as
 * ky_store_rules_accept(). The operator accepts for nobody: KY_EDENIED. */
int ky_council_rules_accept(ky_store *s, const ky_council_caller *c, int64_t version, int64_t *accepted_us);

/* Whether a request of `who` is held until it accepts the rules: the hub has rules and the
 * user has not accepted the version in force. */
bool ky_council_rules_pending(const ky_auth_identity *who);

/* --- the records as JSON ------------------------------------------------------------------------ */

/* The forms the native API answers with and `--json` prints (docs/api.md, the OpenAPI
 * document's Member, User, Key and Group): a new reference (json_decref), NULL when memory
 * ran out. A group's "members" only when with_members (its names are read from the store:
 * NULL with the store's error too). */
json_t *ky_council_member_json(const ky_store_member *m);
json_t *ky_council_user_json(const ky_store_user *u);
json_t *ky_council_key_json(const ky_store_key *k);
json_t *ky_council_group_json(ky_store *s, const ky_store_group *g, bool with_members);

/* A time as every answer writes it (RFC 3339 in UTC, to the microsecond): a new reference. */
json_t *ky_council_time_json(int64_t us);

#endif
