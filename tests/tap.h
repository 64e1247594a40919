/*
 * tap.h - a very small Test Anything Protocol producer
 *
 * plan(n); ok(cond, "name"); is_int(a, b, "name"); is_str(a, b, "name");
 * diag("fmt", ...); return done_testing();
 * Output goes to stdout for automake's tap-driver.sh.
 */
#ifndef DOCMAIL_TAP_H
#define DOCMAIL_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned;

static void
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static int __attribute__((format(printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

#define is_int(got, want, ...) do {					\
	long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);\
	if (!ok(tap_g_ == tap_w_, __VA_ARGS__))				\
		diag("got %lld, want %lld", tap_g_, tap_w_);		\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *tap_g_ = (got), *tap_w_ = (want);			\
	int tap_c_ = (tap_g_ == NULL || tap_w_ == NULL) ?		\
	    tap_g_ == tap_w_ : strcmp(tap_g_, tap_w_) == 0;		\
	if (!ok(tap_c_, __VA_ARGS__))					\
		diag("got '%s', want '%s'",				\
		    tap_g_ ? tap_g_ : "(null)", tap_w_ ? tap_w_ : "(null)");\
} while (0)

static int
done_testing(void)
{
	if (tap_planned == 0)
		printf("1..%d\n", tap_n);
	else if (tap_n != tap_planned)
		diag("planned %d tests, ran %d", tap_planned, tap_n);
	return tap_failed != 0 || (tap_planned != 0 && tap_n != tap_planned);
}

#endif /* DOCMAIL_TAP_H */
