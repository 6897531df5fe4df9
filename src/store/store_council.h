/*
 * store_council: the hub's record of its council (schema 6): members and the sectors they
 * belong to, users with their roles, groups of members, the rules and who accepted which
 * version, and the record of every change to these, with who made it, when, how and why.
 * The audit log of a later issue is built on that record, so every change goes through
 * here and nowhere else.
 *
 * Written once over the store's statement interface (store_backend.h), so both backends run
 * the same SQL. Each write is one transaction holding the council lock, and records its
 * change in the same transaction: a change is stored with its record or not at all. On
 * PostgreSQL a write retried after a lost connection finds its own record (by a random
 * token) and reports what the first attempt did instead of doing it twice.
 *
 * The store checks what it must to keep its records whole (sizes, that names exist); the
 * rules of who may do what, and of what a valid name is, are the council module's
 * (council/council.h). Strings handed in are NUL-terminated UTF-8 that the caller checked.
 *
 * Nothing is cached: a change holds from the next call on, on every connection of every
 * process (a suspended member's next request is refused).
 */
#ifndef KY_STORE_COUNCIL_H
#define KY_STORE_COUNCIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define KY_STORE_NAME_MAX 64       /* a member's or group's name, in bytes */
#define KY_STORE_TITLE_MAX 256     /* a member's display name */
#define KY_STORE_CONTACT_MAX 254   /* an e-mail address (RFC 5321's path limit) */
#define KY_STORE_SECTORS_MAX 16    /* sectors one member may have */
#define KY_STORE_SECTOR_MAX 32     /* a sector's name */
#define KY_STORE_REASON_MAX 1024   /* why a change was made */
#define KY_STORE_RULES_MAX (256 * 1024) /* the rules' text, in bytes */
#define KY_STORE_GROUPS_MAX 256    /* groups one member may be in (a viewer holds them all) */
#define KY_STORE_IDENTITY_MAX 64   /* "identity--" and a UUID, with room */

/* The tiers of membership and the roles of users. */
typedef enum ky_tier { KY_TIER_SECRETARIAT, KY_TIER_CONTRIBUTOR, KY_TIER_GENERAL } ky_tier;
typedef enum ky_role { KY_ROLE_READER, KY_ROLE_ANALYST, KY_ROLE_ADMIN } ky_role;

/* Their names, as stored and written everywhere:
 * "secretariat", "contributor", "general"; "reader", "analyst", "admin". */
const char *ky_tier_name(ky_tier tier);
const char *ky_role_name(ky_role role);
/* The tier or role a name means: false when it is none (the caller says what is known). */
bool ky_tier_parse(const char *name, ky_tier *out);
bool ky_role_parse(const char *name, ky_role *out);

/* --- members ----------------------------------------------------------------------------- */

typedef struct ky_store_member {
	int64_t id;
	char name[KY_STORE_NAME_MAX + 1];
	char title[KY_STORE_TITLE_MAX + 1];
	ky_tier tier;
	char country[3];                 /* "" when not given */
	char contact[KY_STORE_CONTACT_MAX + 1]; /* "" when not given */
	bool suspended;
	char identity_id[KY_STORE_IDENTITY_MAX]; /* the STIX id of its identity object */
	size_t nsectors;
	char sectors[KY_STORE_SECTORS_MAX][KY_STORE_SECTOR_MAX + 1]; /* by name */
	int64_t created_us;
} ky_store_member;

/*
 * Adds member m (name, title, tier, country, contact, sectors; the rest is ignored) and the
 * STIX identity the hub makes for it (identity_class "organization", name = title, the
 * sectors as STIX industry sectors, contact_information = contact). *out (may be NULL) gets
 * the member as stored. KY_EEXISTS when the name is taken; KY_ENOTFOUND for a sector the hub
 * does not keep (the message lists those it keeps); nothing is changed then.
 */
int ky_store_member_add(ky_store *s, const ky_store_member *m, const ky_store_actor *actor, const char *reason,
			ky_store_member *out);

/* The member `name` (or, for ky_store_member_by_id, of that id) into *out; KY_ENOTFOUND. */
int ky_store_member_get(ky_store *s, const char *name, ky_store_member *out);
int ky_store_member_by_id(ky_store *s, int64_t id, ky_store_member *out);

/* The identity object of member `name` as stored (malloc'd, NUL-terminated; the caller
 * frees it) into *json; KY_ENOTFOUND. */
int ky_store_member_identity(ky_store *s, const char *name, char **json);

/*
 * Calls fn for up to `limit` members (0: all) named after `after` ("" or NULL: from the
 * first), by name; *more (may be NULL) says whether others follow. fn's argument is borrowed;
 * nonzero stops (a negative value is returned).
 */
int ky_store_member_list(ky_store *s, const char *after, size_t limit,
			 int (*fn)(void *ctx, const ky_store_member *m), void *ctx, bool *more);

/*
 * Changes member `name`'s tier (tier not NULL) and/or status (suspended not NULL), recording
 * one change for each that differs; *out (may be NULL) gets the member after. KY_ENOTFOUND.
 * A hub keeps at least one active secretariat member: a change that would leave none is
 * KY_ECONFLICT ("... is the hub's last active secretariat member").
 */
int ky_store_member_set(ky_store *s, const char *name, const ky_tier *tier, const bool *suspended,
			const ky_store_actor *actor, const char *reason, ky_store_member *out);

/* Calls fn for each sector the hub keeps (its name, the STIX industry sector it stands for,
 * its title), by name. */
int ky_store_sector_list(ky_store *s, int (*fn)(void *ctx, const char *name, const char *stix, const char *title),
			 void *ctx);

/*
 * The secretariat: when the hub has no member of tier secretariat, creates one named
 * "secretariat" (title "Secretariat"); then gives every user without a member to the first
 * secretariat member, as an admin (what a hub from before members is migrated to). *out
 * (may be NULL) gets the first secretariat member. Run by kyoyu init and kyoyu migrate.
 */
int ky_store_secretariat_ensure(ky_store *s, const ky_store_actor *actor, ky_store_member *out);

/* --- users ------------------------------------------------------------------------------- */

typedef struct ky_store_user {
	int64_t id;
	char name[KY_STORE_USER_MAX + 1];
	int64_t member_id;
	char member[KY_STORE_NAME_MAX + 1];
	ky_tier tier;                    /* its member's */
	ky_role role;
	bool disabled;
	int64_t created_us;
	int64_t rules_accepted;          /* the latest rules version it accepted; 0: none */
	bool created;                    /* ky_store_user_ensure(): this call created it */
} ky_store_user;

/*
 * Adds user `name` to member `member` with `role`; with accepts_rules, records it as having
 * accepted the rules now in force (users an operator makes in the secretariat). *out (may
 * be NULL) gets the user. KY_EEXISTS when the name is taken; KY_ENOTFOUND for no such member.
 */
int ky_store_user_add(ky_store *s, const char *name, const char *member, ky_role role, bool accepts_rules,
		      const ky_store_actor *actor, const char *reason, ky_store_user *out);

/* The user `name` into *out; KY_ENOTFOUND. */
int ky_store_user_get(ky_store *s, const char *name, ky_store_user *out);

/* The user of id `id` into *out; KY_ENOTFOUND. */
int ky_store_user_by_id(ky_store *s, int64_t id, ky_store_user *out);

/*
 * Finds the user `name`, creating it when there is none as an admin of the secretariat that
 * has accepted the rules in force ("the first user owns the hub": kyoyu key create), the
 * secretariat made first if the hub has none. out (may be NULL) gets the user, and
 * out->created says which. KY_EINVALID for an empty or too long name.
 */
int ky_store_user_ensure(ky_store *s, const char *name, const ky_store_actor *actor, const char *reason,
			 ky_store_user *out);

/* Calls fn for up to `limit` users (0: all) named after `after`, of member member_id (0:
 * every member), by name; *more as for members. */
int ky_store_user_list(ky_store *s, int64_t member_id, const char *after, size_t limit,
		       int (*fn)(void *ctx, const ky_store_user *u), void *ctx, bool *more);

/* Changes user `name`'s role (role not NULL) and/or disables it (disable: its keys stop
 * working at once; a disabled user stays disabled); one change recorded for each that
 * differs. *out (may be NULL) gets the user after. KY_ENOTFOUND. */
int ky_store_user_set(ky_store *s, const char *name, const ky_role *role, bool disable, const ky_store_actor *actor,
		      const char *reason, ky_store_user *out);

/* How many users the hub has. */
int ky_store_user_count(ky_store *s, uint64_t *out);

/* --- groups ------------------------------------------------------------------------------ */

typedef struct ky_store_group {
	int64_t id;
	char name[KY_STORE_NAME_MAX + 1];
	int64_t created_us;
} ky_store_group;

/* Creates group `name`; KY_EEXISTS when the name is taken. */
int ky_store_group_create(ky_store *s, const char *name, const ky_store_actor *actor, const char *reason,
			  ky_store_group *out);

/* The group `name` into *out; KY_ENOTFOUND. */
int ky_store_group_get(ky_store *s, const char *name, ky_store_group *out);

/* Calls fn for up to `limit` groups (0: all) named after `after`, by name: every group
 * (member_id 0) or those member member_id is in. *more as for members. */
int ky_store_group_list(ky_store *s, int64_t member_id, const char *after, size_t limit,
			int (*fn)(void *ctx, const ky_store_group *g), void *ctx, bool *more);

/* Calls fn with the name of each member of group group_id, by name. */
int ky_store_group_members(ky_store *s, int64_t group_id, int (*fn)(void *ctx, const char *member), void *ctx);

/* Puts member `member` in group `group`, or takes it out; *changed (may be NULL) says
 * whether it was not there already (or was there). KY_ENOTFOUND for no such group or member. */
int ky_store_group_member_add(ky_store *s, const char *group, const char *member, const ky_store_actor *actor,
			      const char *reason, bool *changed);
int ky_store_group_member_remove(ky_store *s, const char *group, const char *member, const ky_store_actor *actor,
				 const char *reason, bool *changed);

/* The ids of the groups member member_id is in, at most `max` of them, into ids; *n gets how
 * many. KY_ETOOBIG when it is in more than max. */
int ky_store_member_groups(ky_store *s, int64_t member_id, int64_t *ids, size_t max, size_t *n);

/* A list of access keys (store.h), malloc'd: the owner frees `keys` (one block). */
typedef struct ky_store_access_keys {
	char (*keys)[KY_STORE_ACCESS_KEY_MAX + 1];
	size_t n;
} ky_store_access_keys;

/* What a viewer's audience keys need of member member_id, in one query: its sectors (into
 * sectors, *nsectors of them), the ids of its groups (into groups, at most
 * KY_STORE_GROUPS_MAX, *ngroups) and the conjunctions the hub's versions use (decision.h;
 * into *conjunctions, which the caller frees, empty when there is none). KY_ETOOBIG as
 * ky_store_member_groups(), KY_ENOMEM. */
int ky_store_member_reach(ky_store *s, int64_t member_id, char sectors[KY_STORE_SECTORS_MAX][KY_STORE_SECTOR_MAX + 1],
			  size_t *nsectors, int64_t groups[KY_STORE_GROUPS_MAX], size_t *ngroups,
			  ky_store_access_keys *conjunctions);

/* --- rules --------------------------------------------------------------------------------- */

typedef struct ky_store_rules {
	int64_t version;                 /* 0: the hub has set no rules */
	char *text;                      /* malloc'd, NUL-terminated; NULL for none */
	size_t len;
	int64_t set_us;
} ky_store_rules;

/* Frees r->text. */
void ky_store_rules_clear(ky_store_rules *r);

/* Sets a new version of the rules, text[0..len) (valid UTF-8, checked by the caller); *version
 * (may be NULL) gets its number, one more than the last. */
int ky_store_rules_set(ky_store *s, const char *text, size_t len, const ky_store_actor *actor, const char *reason,
		       int64_t *version);

/* The rules in force into *out (version 0 and no text when there are none); the caller
 * clears it. */
int ky_store_rules_get(ky_store *s, ky_store_rules *out);

/*
 * Records that user user_id accepts rules version `version`, which must be the one in force:
 * KY_ENOTFOUND when the hub has no rules, KY_ECONFLICT when `version` is not the current one
 * (the message names the current one). Accepting again is KY_OK. *accepted_us (may be NULL)
 * gets when it was accepted (the first time).
 */
int ky_store_rules_accept(ky_store *s, int64_t user_id, int64_t version, const ky_store_actor *actor,
			  int64_t *accepted_us);

/* --- API keys ------------------------------------------------------------------------------ */

/* A key, with what a request made with it needs to know of its user and member: everything
 * a viewer is built from, read by one indexed lookup on every request (nothing cached). The
 * keys themselves are src/auth/'s: the store sees only their prefixes and keyed hashes. */
typedef struct ky_store_key {
	int64_t id;
	int64_t user_id;
	char user[KY_STORE_USER_MAX + 1];
	char prefix[KY_STORE_KEY_PREFIX_LEN + 1];
	int64_t created_us;             /* microseconds since 1970 */
	int64_t revoked_us;             /* 0 while the key is active */
	ky_role role;                   /* the user's */
	bool disabled;                  /* the user is disabled */
	int64_t member_id;              /* the user's member */
	char member[KY_STORE_NAME_MAX + 1];
	ky_tier tier;
	bool suspended;                 /* the member is suspended */
	int64_t rules_version;          /* the rules in force (0: none) */
	int64_t rules_accepted;         /* the latest version the user accepted (0: none) */
} ky_store_key;

/*
 * Records a key of user `user_id`: its prefix (the key's first KY_STORE_KEY_PREFIX_LEN
 * characters, shown in listings and used to revoke it) and its keyed hash, with the change.
 * Prefixes and hashes are unique in the hub, revoked keys included: KY_EEXISTS when either
 * is taken (the caller makes another key); KY_ENOTFOUND when there is no such user.
 * *key_id (may be NULL) gets the key's id.
 */
int ky_store_key_add(ky_store *s, int64_t user_id, const char *prefix, const uint8_t hash[KY_STORE_KEY_HASH_SIZE],
		     const ky_store_actor *actor, const char *reason, int64_t *key_id);

/*
 * The active key whose keyed hash is `hash`, with its user and member, into *out.
 * KY_ENOTFOUND when there is none or it is revoked: revocation holds from the next call on,
 * on every connection. One indexed lookup.
 */
int ky_store_key_find(ky_store *s, const uint8_t hash[KY_STORE_KEY_HASH_SIZE], ky_store_key *out);

/* Calls fn for every key, revoked ones too, of user user_id (0: every user), ordered by user
 * name and then by creation; fn's argument is borrowed for the call. Stops early when fn
 * returns nonzero (a negative value is returned). */
int ky_store_key_list(ky_store *s, int64_t user_id, int (*fn)(void *ctx, const ky_store_key *k), void *ctx);

/* The key of prefix `prefix`, revoked or not, into *out; KY_ENOTFOUND. */
int ky_store_key_get(ky_store *s, const char *prefix, ky_store_key *out);

/* The active key numbered key_id, with its user and member, into *out (for a connection that
 * outlives its request: the live stream checks its key again); KY_ENOTFOUND when there is
 * none or it is revoked. */
int ky_store_key_by_id(ky_store *s, int64_t key_id, ky_store_key *out);

/*
 * Revokes the active key whose prefix is `prefix`, at once (ky_store_key_find() no longer
 * finds it), with the change. *out (may be NULL) gets the key as revoked. KY_ENOTFOUND when
 * no active key has that prefix (none, or revoked already).
 */
int ky_store_key_revoke(ky_store *s, const char *prefix, const ky_store_actor *actor, const char *reason,
			ky_store_key *out);

/* --- the record of changes ------------------------------------------------------------------ */

typedef struct ky_store_change {
	int64_t id;                      /* increasing in the order the changes were made */
	int64_t at_us;
	const char *user;                /* who: "" for the operator */
	const char *member;              /* the user's member: "" for the operator */
	const char *via, *action, *subject, *detail, *reason; /* detail: "" for none */
} ky_store_change;

/* Calls fn for up to `limit` changes (0: all) made after change `after_id`, in order;
 * strings borrowed for the call; *more as for members. */
int ky_store_change_list(ky_store *s, int64_t after_id, size_t limit, int (*fn)(void *ctx, const ky_store_change *c),
			 void *ctx, bool *more);

#endif
