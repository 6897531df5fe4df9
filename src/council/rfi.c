/*
 * rfi: requests for information checked and shown (rfi.h).
 */
#include "council/rfi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "council/council.h"
#include "stix/stix_schema.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

static bool stix_id_ok(const char *id)
{
	size_t type_len;
	return id != NULL && strlen(id) < KY_STORE_STIX_ID_MAX && ky_stix_id_parse(id, &type_len);
}

int ky_rfi_ask(ky_store *s, const char *subject, const char *question, const char *const *names, size_t n,
	       const ky_store_actor *actor, int64_t *id)
{
	if (!stix_id_ok(subject))
		return ky_error_set(KY_EINVALID, "subject is the STIX id (type--UUID) of the report or object asked about");
	size_t len = question ? strlen(question) : 0;
	if (len == 0 || len > KY_STORE_RFI_QUESTION_MAX || !ky_utf8_valid(question, len))
		return ky_error_set(KY_EINVALID, "question is UTF-8 text of 1 to %d bytes", KY_STORE_RFI_QUESTION_MAX);
	if (n == 0 || n > KY_STORE_RFI_ADDRESSEES_MAX)
		return ky_error_set(KY_EINVALID, "members names 1 to %d members to ask", KY_STORE_RFI_ADDRESSEES_MAX);
	int64_t members[KY_STORE_RFI_ADDRESSEES_MAX];
	for (size_t i = 0; i < n; i++) {
		ky_store_member m;
		int rc = ky_store_member_get(s, names[i], &m);
		if (rc != KY_OK)
			return rc;
		if (m.tier == KY_TIER_SECRETARIAT)
			return ky_error_set(KY_EINVALID, "%s is the secretariat, which asks: name the members to ask", names[i]);
		members[i] = m.id;
	}
	return ky_store_rfi_ask(s, subject, question, members, n, actor, id);
}

int ky_rfi_reply(ky_store *s, int64_t id, int64_t member, const char *answer, const char *reason, const json_t *objects,
		 const ky_store_actor *actor)
{
	ky_rfi_answer a;
	if (!ky_rfi_answer_parse(answer, &a) || a == KY_RFI_OPEN)
		return ky_error_set(KY_EINVALID, "answer is answered (with objects), nothing-seen or declined (with a reason)");
	if ((a == KY_RFI_DECLINED) != (reason != NULL && reason[0] != '\0'))
		return ky_error_set(KY_EINVALID, a == KY_RFI_DECLINED ? "declining takes a reason"
								      : "only declining takes a reason");
	size_t n = json_array_size(objects);
	if ((a == KY_RFI_ANSWERED) != (n > 0) || (objects != NULL && !json_is_array(objects)) || n > KY_STORE_RFI_OBJECTS_MAX)
		return ky_error_set(KY_EINVALID,
				    a == KY_RFI_ANSWERED ? "answered takes objects: the ids of 1 to %d objects your member submitted"
							 : "only answered takes objects",
				    KY_STORE_RFI_OBJECTS_MAX);
	for (size_t i = 0; i < n; i++)
		if (!stix_id_ok(json_string_value(json_array_get(objects, i))))
			return ky_error_set(KY_EINVALID, "objects[%zu] is not a STIX id (type--UUID)", i);
	char *text = n ? json_dumps(objects, JSON_COMPACT) : NULL;
	if (n > 0 && text == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	int rc = ky_store_rfi_answer(s, id, member, a, a == KY_RFI_DECLINED ? reason : NULL, text, actor);
	free(text);
	return rc;
}

typedef struct showing {
	ky_store *s;
	int64_t now;
	json_t *rows;
	int rc;
} showing;

static json_t *addressee_json(showing *sh, const ky_store_rfi *r, const ky_store_rfi_addressee *a)
{
	ky_store_member m;
	if ((sh->rc = ky_store_member_by_id(sh->s, a->member, &m)) != KY_OK)
		return NULL;
	json_t *o = json_pack("{s:s,s:s}", "member", m.name, "answer", ky_rfi_answer_name(a->answer));
	if (o == NULL)
		return NULL;
	if (a->reason != NULL)
		json_object_set_new(o, "reason", json_string(a->reason));
	if (a->objects != NULL)
		json_object_set_new(o, "objects", json_loads(a->objects, 0, NULL));
	if (a->answer != KY_RFI_OPEN)
		json_object_set_new(o, "answered", ky_council_time_json(a->answered_us));
	else if (r->closed_us == 0)
		json_object_set_new(o, "outstanding_seconds", json_integer((json_int_t)((sh->now - r->asked_us) / 1000000)));
	return o;
}

static int show_one(void *ctx, const ky_store_rfi *r)
{
	showing *sh = ctx;
	json_t *addressees = json_array();
	for (size_t i = 0; addressees != NULL && i < r->naddressees; i++) {
		json_t *a = addressee_json(sh, r, &r->addressees[i]);
		if (a == NULL || json_array_append_new(addressees, a) != 0) {
			json_decref(addressees);
			return sh->rc != KY_OK ? sh->rc : KY_ENOMEM;
		}
	}
	json_t *o = addressees ? json_pack("{s:I,s:s,s:s,s:o,s:o,s:o}", "id", (json_int_t)r->id, "subject", r->subject,
					   "question", r->question, "asked", ky_council_time_json(r->asked_us), "closed",
					   r->closed_us ? ky_council_time_json(r->closed_us) : json_null(), "addressees", addressees)
			       : NULL;
	return o != NULL && json_array_append_new(sh->rows, o) == 0 ? 0 : KY_ENOMEM;
}

int ky_rfi_json(ky_store *s, int64_t member, int64_t id, json_t **out)
{
	showing sh = {s, ky_clock_now_us(), json_array(), KY_OK};
	*out = NULL;
	int rc = sh.rows ? ky_store_rfi_list(s, member, id, show_one, &sh) : KY_ENOMEM;
	if (rc == KY_ENOMEM)
		ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK && id != 0 && json_array_size(sh.rows) == 0)
		rc = ky_error_set(KY_ENOTFOUND, "no request for information %lld%s", (long long)id,
				  member ? " is addressed to your member" : "");
	if (rc == KY_OK)
		*out = id != 0 ? json_incref(json_array_get(sh.rows, 0)) : json_pack("{s:O}", "rfis", sh.rows);
	if (rc == KY_OK && *out == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	json_decref(sh.rows);
	return rc;
}
