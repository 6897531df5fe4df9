/*
 * policy: who may see and do what, decided in one place for every path. A viewer is built
 * once per request, after authentication (ky_policy_viewer): the user, its role, its member,
 * tier and groups, as the hub holds them at that moment. Every read and write path asks
 * this module about that viewer.
 *
 * Now: collection grants. kyoyu.conf's [collection NAME] read and write lists name users,
 * members, tiers and groups (config.h); they are compiled once when the server starts
 * (ky_policy_grants_new, which refuses a member or group the hub does not have, as a typo),
 * and a viewer is admitted when any grantee matches it. A collection without a section is
 * the secretariat's. Writing needs the role analyst or admin too, deleting the role admin
 * (a reader reads). The council workflow's two collections have grants of their own, which
 * kyoyu.conf cannot change: every member reads and writes the exchange (a general member
 * reads only its own submissions there: ky_policy_collection_scope), every member reads the
 * countermeasures, which only promotion writes. Inside a collection, each version is read by whom its TLP and audiences
 * let (decision.h), through the viewer's scope on every read of the store.
 *
 * A ky_policy_grants is read-only once made: threads share it.
 */
#ifndef KY_POLICY_H
#define KY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "config/config.h"
#include "policy/decision.h"
#include "store/store_council.h"
#include "store/store_ledger.h"

/* The viewer of one request. */
typedef struct ky_viewer {
	ky_auth_identity who;
	int64_t groups[KY_STORE_GROUPS_MAX];   /* the ids of the groups its member is in, sorted */
	size_t ngroups;
	char sectors[KY_STORE_SECTORS_MAX][KY_STORE_SECTOR_MAX + 1];  /* its member's */
	const char *sector_names[KY_STORE_SECTORS_MAX];                /* = sectors[i] */
	size_t nsectors;
	bool good_standing;                    /* a contributor in good standing now (standing.h):
						* it reads locked material */
	ky_policy_keys keys;                   /* the audience keys it answers to (decision.h) */
	ky_store_reads *reads;                 /* borrowed, may be NULL: where its scope notes the
						* versions it reads, for the audit log (set by the
						* caller after ky_policy_viewer) */
} ky_viewer;   /* points into itself: made in place by ky_policy_viewer, never copied */

typedef struct ky_policy_grants ky_policy_grants;

/* Builds the viewer of `who` (copied) into *out: its member's sectors and groups, in one
 * query, a contributor's standing from the ledger (so that losing or regaining it applies at
 * its next request, on every path), unless it is the secretariat's and no grant of `grants` (may be NULL) names a group
 * (the query the secretariat's requests save: 9 % of the serving benchmark on PostgreSQL).
 * Store failures as the store returns them. */
int ky_policy_viewer(ky_store *s, const ky_policy_grants *grants, const ky_auth_identity *who, ky_viewer *out);

/* The locked material a contributor below good standing would read in good standing
 * (docs/policy.md: the one deliberate exception to "a viewer never learns that a hidden
 * object exists"): how many objects, how many of them reports, and their ages, never which.
 * Zero for every other viewer. Store failures as returned. */
int ky_policy_locked(ky_store *s, const ky_viewer *v, ky_store_locked *out);

/* The viewer a member's users would be, for the operator's `--as MEMBER`: role reader. */
int ky_policy_viewer_of_member(ky_store *s, const ky_store_member *m, ky_viewer *out);

/* The decision's view of v (decision.h), borrowing v. */
ky_decision_viewer ky_policy_decision_viewer(const ky_viewer *v);

/* What v's reads of objects may see (store.h): everything for the secretariat, else the
 * versions its keys open; each read noted in v->reads. Borrows v: valid while v is. */
ky_store_scope ky_policy_scope(const ky_viewer *v);

/* What v's reads of collection `collection` may see: ky_policy_scope(v), but in the
 * exchange a general member's only the versions it provided and the feedback on its reports
 * (docs/council.md), whose key is put in *own. Borrows v and own. */
ky_store_scope ky_policy_collection_scope(const char *collection, const ky_viewer *v, ky_policy_keys *own);

/* Compiles config's collection grants against the hub's members and groups into *out (the
 * caller frees it with ky_policy_grants_free). KY_EINVALID naming the section, the list and
 * the name when a member or group is not in the hub, or a default audience names what it lacks;
 * KY_ENOMEM. */
int ky_policy_grants_new(ky_store *s, const ky_config *config, ky_policy_grants **out);

/* NULL does nothing. */
void ky_policy_grants_free(ky_policy_grants *g);

/* Whether viewer v may read, write (TAXII Add Objects: the role analyst or admin too) or
 * delete from (read, write and the role admin) the collection named `collection`. */
bool ky_policy_may_read(const ky_policy_grants *g, const char *collection, const ky_viewer *v);
bool ky_policy_may_write(const ky_policy_grants *g, const char *collection, const ky_viewer *v);
bool ky_policy_may_delete(const ky_policy_grants *g, const char *collection, const ky_viewer *v);

/* Whether the collection's grants would let v write if its role allowed it: a reader who
 * tries is told that its role is why (403), not that the collection is not there. */
bool ky_policy_granted_write(const ky_policy_grants *g, const char *collection, const ky_viewer *v);

#endif
