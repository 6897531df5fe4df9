/*
 * admission: what the policy decides of a version when it arrives (docs/policy.md). Part of
 * the policy module. For each valid object a member submits, by TAXII, the native API or an
 * operator's import, it finds the facts (decision.h: effective TLP, audiences, unresolved
 * markings) and turns them into the access the store keeps with the version (store.h:
 * ky_store_access), or refuses the object:
 *
 * - TLP:RED without a member audience (RED reaches only the members named);
 * - a created_by_ref naming another member's identity (a member provides as itself; an
 *   identity outside the hub is third-party content, accepted with the submitter as
 *   provider). The secretariat may name a member on a version of that member's object,
 *   which only the store can tell (store.h: KY_STORE_NOT_CREATOR).
 *
 * A marking the hub cannot resolve (no TLP, no audience, no marking-definition the hub holds
 * or the submission brought before) is accepted fail closed, readable by the provider and
 * the secretariat only, with a warning. So is a member's object whose text (any string but
 * its references and ids) names the member (its name, title or contact), which other members
 * read although references to it are pseudonymised (pseudonym.h): kyoyu cannot rewrite
 * text safely.
 *
 * Granular markings (STIX 2.1 §7.2.3) restrict parts: a part is required when the object
 * without it is not valid STIX (stix_validate.h; what marks the object, granular_markings
 * and object_marking_refs, always is), and then the version's keys ask for the part's too
 * (decision.h: conjunctions); the other parts are kept with the version with their own keys
 * (ky_store_access.parts), and the store removes them from what a viewer without one reads. The one rule the store checks itself, under its
 * lock, is that only an object's provider or the secretariat adds versions of it.
 *
 * The hub's audiences are marking-definitions with ids of the hub's own, derived from a hub
 * secret and the audience (so every process of a hub agrees on them without storing them):
 * the community, the contributors, each sector, each group, each member.
 *
 * A ky_admission is a snapshot of the hub's audiences, members' identities and held
 * marking-definitions, taken once per submission: use it from one thread at a time.
 */
#ifndef KY_POLICY_ADMISSION_H
#define KY_POLICY_ADMISSION_H

#include <jansson.h>

#include "config/config.h"
#include "policy/decision.h"
#include "policy/pseudonym.h"
#include "store/store_council.h"
#include "store/store_reports.h"

#define KY_AUDIENCE_ID_MAX 64   /* "marking-definition--" + a UUID, with its NUL */

/* One audience the hub offers. */
typedef struct ky_audience_entry {
	char marking_id[KY_AUDIENCE_ID_MAX];
	ky_audience audience;             /* audience.name points at `name` for sectors */
	const char *kind;                 /* "community", "contributors", "sector", "group", "member" */
	char name[KY_STORE_NAME_MAX + 1]; /* the sector's, group's or member's name; the kind's
					   * for the community and the contributors */
	int64_t created_us;               /* the group's or member's creation; 0 for the others */
} ky_audience_entry;

/* The id of kyoyu's extension-definition of audiences (docs/policy.md), the same on every hub. */
#define KY_AUDIENCE_EXTENSION "extension-definition--c0816e2f-3570-428b-bb30-1b094b40ab0b"

/* The marking-definition by which a member chooses to be named on one of its objects
 * (docs/policy.md, "Pseudonyms"): in its object_marking_refs, the references to the provider's
 * identity reach every reader as they are, and so does the provider's identity object.
 * Published in every hub's KY_POLICY_HUB_COLLECTION, the same on every hub. It restricts
 * nobody's reading, and a provider can name only itself by it. */
#define KY_NAMED_MARKING "marking-definition--fc03263f-2db5-4668-8dcb-350ec72af52a"

/* The marking-definition of locked material (docs/council.md, "Give-and-take"): an object that
 * lists it is read, of its audience, only by the contributors in good standing (and by its
 * provider and the secretariat), on every path. Published in every hub's
 * KY_POLICY_HUB_COLLECTION, the same on every hub. */
#define KY_STANDING_MARKING "marking-definition--6a1f3e52-8c0b-4d7e-9f25-3b4c5d6e7f80"

/* The collection where every hub keeps its own definitions, which every member reads and
 * nobody writes by TAXII: the five TLP 2.0 marking-definitions and their extension-definition,
 * kyoyu's audience extension-definition, one marking-definition per audience (a group's
 * read by the group's members and the secretariat only), KY_NAMED_MARKING and
 * KY_STANDING_MARKING. */
#define KY_POLICY_HUB_COLLECTION "hub"

/*
 * Makes collection KY_POLICY_HUB_COLLECTION if the hub has none, and adds to it every
 * definition it lacks (those it holds are duplicates, so running it again adds only what
 * is new: a member's or a group's audience). The secretariat provides them. For `kyoyu
 * serve`'s start (a hub is served with them) and after a member or group is made (so that a
 * running server serves its audience at once). Store failures as returned.
 */
int ky_policy_publish(ky_store *s);

/* Calls fn for every audience of the hub: the community, the contributors, the sectors, the
 * groups, the members (by name within each kind). The entry is borrowed for the call;
 * nonzero stops. Store failures as returned. */
int ky_policy_audience_list(ky_store *s, int (*fn)(void *ctx, const ky_audience_entry *e), void *ctx);

/* The TLP level named in kyoyu.conf's [policy] default_tlp ("amber", ...). */
ky_tlp ky_policy_default_tlp(const ky_config *config);

typedef struct ky_admission ky_admission;

typedef struct ky_admission_options {
	int64_t provider;              /* the submitting member's id */
	ky_tier provider_tier;
	ky_tlp default_tlp;            /* for objects without TLP */
	const char *default_audience;  /* the collection's ([collection] audience); NULL or "":
					* the community */
	bool exchange;                 /* the submission goes to the exchange (store_reports.h):
					* every object is for contributors only while its report
					* is not promoted (the state rule), and what it is to the
					* workflow is read from it */
} ky_admission_options;

/*
 * Takes the snapshot for one submission into *out (the caller frees it with
 * ky_admission_free). KY_EINVALID naming the item when default_audience names a kind, sector,
 * group or member the hub does not have; store failures as returned; KY_ENOMEM.
 */
int ky_admission_new(ky_store *s, const ky_admission_options *o, ky_admission **out);

/* The snapshot for the operator's imports: the secretariat provides, with the hub's default
 * TLP and the collection's default audience from `config` (may be NULL: the defaults). */
int ky_admission_operator(ky_store *s, const ky_config *config, const char *collection, ky_admission **out);

/* NULL does nothing. */
void ky_admission_free(ky_admission *a);

/*
 * Gives every version of a hub from before schema 7 (which only the secretariat reads until
 * then) the access that the operator's import would give it now: the secretariat its
 * provider, its TLP and audience markings read as this module reads a submission's, the
 * hub's default TLP, the community when it names no audience. A version the policy would
 * refuse today (TLP:RED naming no member, say) stays readable by the secretariat alone. For
 * `kyoyu migrate`; running it again finds nothing left to do. *settled (may be NULL) gets
 * how many versions it settled. Store failures as returned.
 */
int ky_policy_settle(ky_store *s, const ky_config *config, uint64_t *settled);

/* A pseudonym the shared form names, and the identity object it is served as (pseudonym.h),
 * which the caller stores beside the object so that its references resolve. */
typedef struct ky_admitted_pseudonym {
	char id[KY_PSEUDONYM_ID_MAX];
	char *raw;                        /* owned: the identity's JSON text (malloc'd) */
	size_t raw_len;
} ky_admitted_pseudonym;

/* The version every pseudonym identity has (its created and modified): the same on every hub,
 * so that no date tells one member's pseudonyms from another's. */
#define KY_PSEUDONYM_CREATED "2026-12-01T00:00:00.000Z"

/* What one admitted object gets. */
typedef struct ky_admitted {
	ky_policy_keys keys;
	ky_store_access access;           /* access.keys points into keys, access.parts is parts */
	char *parts;                      /* owned: malloc'd (ky_admitted_clear frees it); NULL
					   * when no part is restricted */
	char *shared;                     /* owned, malloc'd likewise: the form other members read
					   * (access.shared is it); NULL when no reference to a
					   * member's identity needs its pseudonym */
	ky_admitted_pseudonym *pseudonyms; /* owned (malloc'd): the pseudonyms `shared` names, each
					   * once; NULL when none */
	size_t npseudonyms;
	ky_store_access pseudonym_access; /* how the pseudonyms' identities are stored: provided by
					   * the secretariat, TLP:CLEAR, read by the version's
					   * audience (its keys but the provider's own); its keys
					   * point into `keys` */
	const char *pseudonym_keys[KY_STORE_ACCESS_KEYS_MAX];
	ky_store_workflow workflow;       /* with options.exchange, what it is to the workflow
					   * (access.workflow points here); its refs point into
					   * workflow_refs, whose strings the object owns */
	const char **workflow_refs;       /* owned (malloc'd) array; NULL when none */
	char warning[512];                /* "" when there is none */
	bool unresolved;                  /* a marking the hub does not hold restricts it (fail
					   * closed, until the marking arrives) */
} ky_admitted;

/* Frees what a decision gave *a (parts, shared, pseudonyms, workflow_refs). */
void ky_admitted_clear(ky_admitted *a);

/*
 * Decides for one valid object (borrowed). KY_OK: *out is the access to store it with (and
 * maybe a warning), which the caller clears (ky_admitted_clear); KY_EDENIED: refused, with
 * the reason in ky_error_last(); KY_ENOMEM. A marking-definition admitted here counts as
 * held for the objects after it.
 */
int ky_admission_decide(ky_admission *a, const json_t *object, ky_admitted *out);

#endif
