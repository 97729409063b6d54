/* What heapdoc release and heapdoc set share. */
#include "act.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "base/util.h"
#include "cmd.h"
#include "report/act.h"

/* --verify samples at most this often and this many times. */
#define VERIFY_MAX_SAMPLES 64
#define VERIFY_MIN_INTERVAL_S 0.2

int cmd_act_identify(struct cmd_act *c, struct error *err)
{
	int rc = proc_check_target("", c->pid, err);

	if (!rc)
		rc = proc_read_status("", c->pid, &c->status, err);
	if (!rc)
		rc = alloc_detect("", c->pid, NULL, &c->id, err);
	return rc;
}

int cmd_act_open(struct cmd_act *c, struct error *err)
{
	int rc = act_open(&c->actor, c->pid, &c->id, &c->opts, err);

	if (!rc)
		rc = target_attach(&c->t, c->pid, err);
	return rc;
}

void cmd_act_close(struct cmd_act *c)
{
	target_detach(&c->t);
	act_close(c->actor);
	c->actor = NULL;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

void cmd_act_verify(const struct cmd_act *c, uint64_t before, bool meant_to_fall,
		    struct verify_result *out)
{
	uint64_t rss[VERIFY_MAX_SAMPLES];
	double step = MAX(c->verify_s / (VERIFY_MAX_SAMPLES - 1), VERIFY_MIN_INTERVAL_S);
	size_t n = 0;

	step = MAX(step, MIN(1.0, c->verify_s / 10));
	for (double at = 0; n < VERIFY_MAX_SAMPLES; at += step) {
		rss[n++] = act_rss(c->pid);
		if (at + step > c->verify_s + 1e-9)
			break;
		sleep_s(step);
	}
	judge_verify(before, rss, n, c->verify_s, meant_to_fall, out);
}

int cmd_act_parse(const struct cmd_args *a, unsigned verify, unsigned timeout,
		  struct cmd_act *c)
{
	int code = cmd_parse_pid(a->cmd, a->argv[0], &c->pid);

	if (code)
		return code;
	if (a->set[verify]) {
		if (a->seconds[verify] <= 0 || a->seconds[verify] > 24 * 3600)
			return cmd_usage_error(a->cmd, "--verify: '%s' is not a duration up to 24h",
					       a->value[verify]);
		c->verify_s = a->seconds[verify];
	}
	if (a->set[timeout]) {
		if (a->seconds[timeout] <= 0 || a->seconds[timeout] > 600)
			return cmd_usage_error(a->cmd, "--timeout: '%s' is not a duration up to 10m",
					       a->value[timeout]);
		c->opts.timeout_ms = (unsigned)(a->seconds[timeout] * 1000);
	}
	return 0;
}

int cmd_act_refused(int rc, struct error *err)
{
	char why[sizeof(err->msg)];

	if (rc != -EAGAIN)
		return rc;
	snprintf(why, sizeof(why), "%s", err->msg);
	return error_set(err, rc, "%s; nothing was changed", why);
}

int cmd_act_report(const struct cmd_act *c, struct act_report *rep, bool verify,
		   bool meant_to_fall, bool json)
{
	struct verify_result v;

	if (verify && c->verify_s > 0) {
		cmd_act_verify(c, rep->release ? rep->release->rss_before : rep->rss_before,
			       meant_to_fall, &v);
		rep->verify = &v;
	}
	if (json) {
		act_print_json(stdout, rep);
	} else {
		struct style s;

		style_for(stdout, &s);
		act_print_text(stdout, rep, &s);
	}
	rep->verify = NULL;
	return EXIT_OK;
}
