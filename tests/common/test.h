/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test harness: cmocka with TAP output, and a per-test check that no file
 * descriptor was left open. Every test is registered with UVFIO_TEST() so
 * the check runs after it; a leak fails that test and names the fds.
 */
#ifndef UVFIO_TEST_H
#define UVFIO_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int uvfio_test_fd_setup(void **state);
int uvfio_test_fd_teardown(void **state);

/* Number of open fds of this process. */
int uvfio_test_fd_count(void);

/* Make cmocka's "not ok N # SKIP" lines read "ok N # SKIP" (see test.c). */
void uvfio_test_tap(void);

#define UVFIO_TEST(fn) cmocka_unit_test_setup_teardown(fn, uvfio_test_fd_setup, uvfio_test_fd_teardown)

#define UVFIO_TEST_MAIN(...)                                                                       \
	int main(void)                                                                             \
	{                                                                                          \
		static const struct CMUnitTest tests[] = { __VA_ARGS__ };                          \
		cmocka_set_message_output(CM_OUTPUT_TAP);                                          \
		uvfio_test_tap();                                                                  \
		return cmocka_run_group_tests(tests, NULL, NULL);                                  \
	}

/* assert an int-returning call yields exactly @want (0 or -errno). */
#define assert_ret(call, want) assert_int_equal((call), (want))

#endif /* UVFIO_TEST_H */
