/*
 * pseudonym: how members' identities reach other members (docs/policy.md, "Pseudonyms").
 * Part of the policy module.
 *
 * A member is known to the readers of one of its objects by its pseudonym for the object's
 * audience: an identity id derived under a hub secret from the member and the audience, so
 * that every process of a hub agrees on it without storing it, the same viewer sees the same
 * pseudonym on all of one provider's objects for one audience (feedback and reputation can
 * build up), and two audiences never share one. Without the secret, nothing links a
 * pseudonym to its member, to the member's other pseudonyms or to the audience.
 *
 * The audience is the version's access keys (decision.h) but the provider's own, which every
 * version of the provider carries: the readers the version reaches besides its provider.
 *
 * What is pseudonymised is every reference to a member's identity: the string values of
 * every property named `*_ref` and the items of every property named `*_refs`, at any depth
 * (extensions and nested objects included), as STIX 2.1 §2.2 (identifier) names references.
 * Free text is not rewritten (kyoyu cannot do so safely).
 */
#ifndef KY_POLICY_PSEUDONYM_H
#define KY_POLICY_PSEUDONYM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_council.h"

/* The name of the hub secret pseudonyms are derived under (store.h: ky_store_secret); its
 * own, so that a pseudonym says nothing of the audiences' ids derived under theirs. */
#define KY_PSEUDONYM_SECRET "pseudonym"

/* "identity--" and a UUID, with its NUL. */
#define KY_PSEUDONYM_ID_MAX 48

/* The longest audience text: every key a version may carry, with a separator each. */
#define KY_PSEUDONYM_AUDIENCE_MAX (KY_STORE_ACCESS_KEYS_MAX * (KY_STORE_ACCESS_KEY_MAX + 1) + 1)

/*
 * Writes into out (cap bytes) the audience of a version with access keys keys[0..nkeys) and
 * provider `provider` (0: none): its keys but the provider's own, sorted and joined by
 * spaces (no key holds a space: decision.h), "" for a version only its provider reads.
 * KY_OK; KY_EINVALID when the keys do not fit in cap.
 */
int ky_pseudonym_audience(const char *const *keys, size_t nkeys, int64_t provider, char *out, size_t cap);

/* Writes into out the pseudonym of member `member` for `audience` under the hub's pseudonym
 * secret. */
void ky_pseudonym_id(const uint8_t secret[KY_STORE_SECRET_SIZE], int64_t member, const char *audience,
		     char out[KY_PSEUDONYM_ID_MAX]);

/* Whether a property named `key` is a reference (`*_ref`, `*_refs`: STIX 2.1 §2.2). */
bool ky_pseudonym_is_reference(const char *key);

/* The member whose identity `identity_id` is, or 0 for one that is no member's. */
typedef int64_t ky_pseudonym_member_fn(void *ctx, const char *identity_id);

/*
 * Replaces in `object` (changed in place) every reference to a member's identity (member_of
 * says whose) by that member's pseudonym for `audience`, except references to member `named`
 * (a provider that chose to be named on the object; 0: none). Returns how many references
 * it replaced. References that are not strings, and everything else, are left as they are.
 */
size_t ky_pseudonymise(json_t *object, ky_pseudonym_member_fn *member_of, void *ctx,
		       const uint8_t secret[KY_STORE_SECRET_SIZE], const char *audience, int64_t named);

/* How many references ky_pseudonymise() would replace in `object` (borrowed, unchanged):
 * whether a copy to rewrite is needed at all. */
size_t ky_pseudonym_references(const json_t *object, ky_pseudonym_member_fn *member_of, void *ctx, int64_t named);

/*
 * The identity object a pseudonym is served as, so that references to it resolve: STIX 2.1
 * §4.5, identity_class "unknown" and a name made of the pseudonym itself (nothing of the
 * member), TLP:CLEAR (it says nothing), created and modified at `created` (a STIX timestamp: the same for every copy, so
 * that the hub holds one version of it). A new reference (the caller owns it), or NULL when
 * out of memory.
 */
json_t *ky_pseudonym_identity(const char *pseudonym_id, const char *created);

/*
 * The secretariat's lookup of a pseudonym (docs/policy.md, "Pseudonyms"): the member whose
 * pseudonym `pseudonym_id` is, into *member, and the audience it is that member's pseudonym
 * for (its keys joined by spaces) into audience[0..cap). The hub keeps no table of them: the
 * pseudonym's identity object carries its audience's keys, and the member is the one whose
 * pseudonym for that audience, derived under the hub's secret, is this id (the escrow is
 * the secret). Every lookup, answered or not, is appended to the audit log first, as
 * `actor`'s "pseudonym.resolve" with `reason`: one that cannot be logged is not answered.
 * KY_ENOTFOUND when the hub serves no such pseudonym; store failures as returned.
 */
int ky_pseudonym_resolve(ky_store *s, const char *pseudonym_id, const ky_store_actor *actor, const char *reason,
			 ky_store_member *member, char *audience, size_t cap);

#endif
