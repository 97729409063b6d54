/* The JSON writer: escaping, nesting, null for unset figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/json.h"
#include "testlib.h"
#include "base/util.h"

static char *render(void (*write_doc)(struct json *))
{
	static char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	struct json j;

	json_init(&j, f, false);
	write_doc(&j);
	json_finish(&j);
	fclose(f);
	return buf;
}

static void doc_nested(struct json *j)
{
	json_object_begin(j, NULL);
	json_uint(j, "rss", 4096);
	json_uint(j, "limit", UNSET);
	json_double(j, "ratio", NAN);
	json_string(j, "name", "a \"q\"\n\\");
	json_array_begin(j, "list");
	json_int(j, NULL, -1);
	json_bool(j, NULL, true);
	json_object_begin(j, NULL);
	json_object_end(j);
	json_array_end(j);
	json_object_end(j);
}

START_TEST(nested_document_is_exact)
{
	ck_assert_str_eq(render(doc_nested),
		"{\"rss\":4096,\"limit\":null,\"ratio\":null,"
		"\"name\":\"a \\\"q\\\"\\n\\\\\",\"list\":[-1,true,{}]}\n");
}
END_TEST

static void doc_control(struct json *j)
{
	json_string(j, NULL, "\x01");
}

START_TEST(control_characters_are_escaped)
{
	ck_assert_str_eq(render(doc_control), "\"\\u0001\"\n");
}
END_TEST

Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("writer");

	tcase_add_test(tc, nested_document_is_exact);
	tcase_add_test(tc, control_characters_are_escaped);
	suite_add_tcase(s, tc);
	return s;
}
