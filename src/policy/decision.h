/*
 * decision: the one read decision for an object version, and TLP 2.0 (docs/policy.md).
 * Part of the policy module: policy.h builds the viewer, this file decides for one version
 * from its hub metadata (the "facts": provider, effective TLP, audiences), and the same
 * decision as audience keys, which the store's queries select by inside the SQL.
 *
 * The decision, stated once: a viewer may read a version when its member is the secretariat,
 * or the version's provider, or is inside the version's audiences (their union; none is the
 * community) and satisfies its TLP (RED reaches only members named by a member audience) and
 * its state (a version of a report not promoted reaches contributors only: the state rule). A
 * version carrying a marking the hub cannot resolve is read by its provider and the
 * secretariat only (fail closed). What may leave the hub (exports, webhooks, federation) is
 * TLP's: CLEAR anywhere, GREEN and AMBER to members inside the audience, AMBER+STRICT and RED
 * only to the member's own systems (its own exports, webhooks to endpoints its admin declared
 * its own), addressed to it; nothing else. Reading as the provider or the secretariat does
 * not make a member a recipient: copies leave only to members the audiences name.
 *
 * Pure functions of their arguments: no store, no globals; thread-safe.
 */
#ifndef KY_POLICY_DECISION_H
#define KY_POLICY_DECISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store_council.h"

/* TLP 2.0 levels, least strict first, so that the strictest of several is the largest. */
typedef enum ky_tlp { KY_TLP_CLEAR, KY_TLP_GREEN, KY_TLP_AMBER, KY_TLP_AMBER_STRICT, KY_TLP_RED } ky_tlp;

/* The OASIS marking-definition id of TLP 2.0 level t, and its name ("TLP:AMBER+STRICT"). */
const char *ky_tlp_id(ky_tlp t);
const char *ky_tlp_name(ky_tlp t);

/* The level a marking-definition id stands for: a TLP 2.0 id, or a TLP 1.0 id read as its 2.0
 * equivalent (WHITE as CLEAR); false for any other id. */
bool ky_tlp_of_id(const char *id, ky_tlp *out);

/* Who an audience marking lets read. */
typedef enum ky_audience_kind {
	KY_AUDIENCE_COMMUNITY,     /* every member */
	KY_AUDIENCE_CONTRIBUTORS,  /* members of tier contributor */
	KY_AUDIENCE_SECTOR,        /* members of one sector: `name` */
	KY_AUDIENCE_GROUP,         /* members of one group: `id` */
	KY_AUDIENCE_MEMBER,        /* one member: `id` */
} ky_audience_kind;

typedef struct ky_audience {
	ky_audience_kind kind;
	int64_t id;                /* the group's or member's id */
	const char *name;          /* the sector's name; borrowed */
} ky_audience;

/* What the decision needs of the member that looks (the viewer's, policy.h). */
typedef struct ky_decision_viewer {
	int64_t member_id;
	ky_tier tier;
	const char *const *sectors;   /* its member's sectors, by name */
	size_t nsectors;
	const int64_t *groups;        /* the ids of the groups its member is in */
	size_t ngroups;
	bool good_standing;           /* a contributor in good standing (standing.h) */
} ky_decision_viewer;

#define KY_POLICY_PARTS_MAX 32           /* parts one object may restrict */
#define KY_POLICY_PART_AUDIENCES_MAX 8   /* audiences one part may name */

/* A part of a version that its granular markings restrict further than the version (STIX
 * 2.1 §7.2.3): the property or list item one selector names, with every granular marking
 * that names it. */
typedef struct ky_part_facts {
	const char *selector;         /* borrowed from the object */
	ky_tlp tlp;                   /* the strictest of the version's and the part's markings */
	ky_audience audiences[KY_POLICY_PART_AUDIENCES_MAX];  /* its own; none: the version's */
	size_t naudiences;
	bool unresolved;              /* a marking on it the hub cannot resolve */
	bool required;                /* the object is not valid without it (admission.h): a
				       * viewer that may not read it does not see the version */
} ky_part_facts;

/* A version's hub metadata, as the decision reads it. */
typedef struct ky_version_facts {
	int64_t provider;             /* the member that submitted it */
	ky_tlp tlp;                   /* its effective TLP (ky_policy_effective_tlp) */
	const ky_audience *audiences; /* its audiences; none: the community (the collection's
				       * default is resolved before) */
	size_t naudiences;
	bool unresolved;              /* it carries a marking the hub cannot resolve */
	bool contributors_only;       /* the state rule: it belongs to a report that is not
				       * (or was never) countermeasure information, which only
				       * contributors read of the audience (docs/council.md) */
	bool standing_only;           /* locked material: it carries KY_STANDING_MARKING
				       * (admission.h), so that only contributors in good
				       * standing read it of the audience (docs/council.md) */
	const ky_part_facts *parts;   /* the parts it restricts further */
	size_t nparts;
} ky_version_facts;

/* Where a copy of a version may go, for one recipient member. */
typedef enum ky_leave {
	KY_LEAVE_NONE,       /* nowhere outside the hub */
	KY_LEAVE_OWN,        /* only the member's own exports and own-system webhooks */
	KY_LEAVE_AUDIENCE,   /* to the member, a recipient inside the audience */
	KY_LEAVE_ANYWHERE,   /* CLEAR: anywhere */
} ky_leave;

/* The effective TLP of the levels found on a version (n of them): the strictest, or `fallback`
 * (the hub's default, AMBER unless configured) when there are none. */
ky_tlp ky_policy_effective_tlp(const ky_tlp *levels, size_t n, ky_tlp fallback);

/* What a marking-definition id stands for in the hub, besides TLP: an audience (into
 * *audience), another marking the hub holds (a statement, say: it limits nothing here), or
 * nothing the hub knows. */
typedef enum ky_marking_kind { KY_MARKING_UNKNOWN, KY_MARKING_AUDIENCE, KY_MARKING_OTHER } ky_marking_kind;
typedef ky_marking_kind ky_marking_resolver(void *ctx, const char *id, ky_audience *audience);

/* Where ky_policy_facts_of puts what it finds; out points into it. */
typedef struct ky_facts_space {
	ky_audience audiences[KY_STORE_ACCESS_KEYS_MAX];
	ky_part_facts parts[KY_POLICY_PARTS_MAX];
} ky_facts_space;

/*
 * Reads an object's markings into *out (all but out->provider, which the caller sets, and
 * the parts' `required`, which the caller decides): from object_marking_refs, the TLP levels
 * (ky_tlp_of_id) and their effective level, with `fallback` when there is none, the
 * audiences `resolve` finds, and whether a reference is neither (out->unresolved: fail
 * closed); from granular_markings (those with a marking_ref), the parts they restrict
 * further than the whole. Borrows object; out points into *space. KY_EINVALID when the
 * markings are not lists of the right shape (a validated object's never are), KY_ETOOBIG
 * past the limits above.
 */
int ky_policy_facts_of(const json_t *object, ky_tlp fallback, ky_marking_resolver *resolve, void *ctx,
		       ky_facts_space *space, ky_version_facts *out);

/*
 * The decision as the store applies it (store.h: ky_store_access, ky_store_scope): a version
 * carries the audience keys that may read it, a viewer holds the keys it answers to, and the
 * viewer may read the version exactly when one key is in both (or it is the secretariat,
 * which reads everything). A key is "*" (the community), "c" (the contributors), "s:NAME" (a
 * sector), "g:ID" (a group), "m:ID" (a member), "k" (the contributors in good standing). tests/unit/policy/test_scope.c holds the two
 * forms to each other on random hubs, in the store of each backend.
 */
typedef struct ky_policy_keys {
	char key[KY_STORE_ACCESS_KEYS_MAX][KY_STORE_ACCESS_KEY_MAX + 1];
	const char *ptr[KY_STORE_ACCESS_KEYS_MAX];  /* ptr[i] = key[i], for the store */
	size_t n;
} ky_policy_keys;

/* The keys that may read a version: its provider's, and its recipients' (none when a marking
 * is unresolved; for RED the members its member audiences name; without audiences the
 * community's), each of those joined with the contributors' ("c&s:water"; the community's
 * becomes "c") under the state rule, and with "k" when it is locked material ("k&s:water"). When required parts restrict it further, a recipient must hold a key of the
 * version and one of each such part: those keys are conjunctions, their parts' keys joined
 * by '&' in byte order ("c&g:4"), which a viewer holds when it holds each
 * (ky_policy_conjunction). KY_ETOOBIG past KY_STORE_ACCESS_KEYS_MAX keys or
 * KY_STORE_ACCESS_KEY_MAX bytes in one. */
int ky_policy_access_keys(const ky_version_facts *f, ky_policy_keys *out);

/* The keys that may read part i of a version (a viewer that reads the version and holds
 * none of them gets it without that part). Same errors. */
int ky_policy_part_keys(const ky_version_facts *f, size_t i, ky_policy_keys *out);

/* Adds `conjunction` to a viewer's keys (ky_policy_viewer_keys) when it holds every key it
 * joins. KY_ETOOBIG past KY_STORE_ACCESS_KEYS_MAX. */
int ky_policy_conjunction(ky_policy_keys *viewer, const char *conjunction);

/* The key of one audience, into out. KY_ETOOBIG when a sector's name makes it too long. */
int ky_policy_audience_key(const ky_audience *a, char out[KY_STORE_ACCESS_KEY_MAX + 1]);

/* The keys a viewer answers to: the community's, the contributors' for a contributor ("k" too
 * when it is in good standing), its sectors', its groups' and its member's. KY_ETOOBIG past KY_STORE_ACCESS_KEYS_MAX. */
int ky_policy_viewer_keys(const ky_decision_viewer *v, ky_policy_keys *out);

/* Whether the viewer may read the version: its required parts included. */
bool ky_policy_may_read_version(const ky_decision_viewer *v, const ky_version_facts *f);

/* Whether the viewer, which may read the version, may read its part i too. */
bool ky_policy_may_read_part(const ky_decision_viewer *v, const ky_version_facts *f, size_t i);

/* What of the version may leave the hub to the viewer's member. */
ky_leave ky_policy_may_leave(const ky_decision_viewer *v, const ky_version_facts *f);

/* The same decision in the keys' form, for a version in hand as the store holds it (the
 * webhooks', webhook/webhook.h): `reads` whether the viewer reads it (ky_store_scope_reads),
 * `held` the viewer's keys (ky_policy_viewer_keys with the conjunctions it holds), keys[0..n)
 * the version's, `provider` its provider and `tlp` its effective TLP (-1: not settled, which
 * leaves nowhere). A recipient holds a key of the version other than its provider's own:
 * the provider's key is there for the provider to read what it gave, which does not make it
 * a recipient. tests/unit/policy/test_decision.c holds it to the table as ky_policy_may_leave. */
ky_leave ky_policy_leave_of_keys(bool reads, const ky_policy_keys *held, const char *const *keys, size_t n,
				 int64_t provider, int tlp);

#endif
