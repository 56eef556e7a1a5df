/*
 * SRTP protect micro-benchmark for the libsrtp that build-worker.sh links into
 * mediasoup-worker (Debian's libsrtp2 2.5.0 built static with OpenSSL, used
 * through the libsrtp 3 compatibility header exactly like the worker does:
 * opaque policy + out-of-place srtp_protect()).
 *
 * Usage: bench-srtp [packets]   (default 200000 packets of 1,000 bytes,
 *                               12-byte RTP header included)
 * Output: one "<profile> <microseconds per packet>" line per profile (best of
 * REPEATS timed runs of [packets] each, after a warm-up).
 */
#include <srtp.h> /* the compat header (libsrtp 3 API) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RTP_PACKET_LEN 1000
#define REPEATS 5

static void check(srtp_err_status_t err, const char* what)
{
	if (err != srtp_err_status_ok)
	{
		fprintf(stderr, "%s failed: %d\n", what, (int)err);
		exit(1);
	}
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);

	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double bench_profile(srtp_profile_t profile, long packets)
{
	/* Aligned like the worker's EncryptBuffer. */
	static _Alignas(4) uint8_t rtp[RTP_PACKET_LEN];
	static _Alignas(4) uint8_t out[RTP_PACKET_LEN + SRTP_MAX_TRAILER_LEN];
	uint8_t key[64];
	srtp_policy_t policy;
	srtp_ssrc_t ssrc = { ssrc_any_outbound, 0 };
	srtp_t session;
	size_t key_len  = srtp_profile_get_master_key_length(profile);
	size_t salt_len = srtp_profile_get_master_salt_length(profile);
	long warmup     = 2000;
	double start    = 0;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);

	check(srtp_policy_create(&policy), "srtp_policy_create");
	check(srtp_policy_set_ssrc(policy, ssrc), "srtp_policy_set_ssrc");
	check(srtp_policy_set_profile(policy, profile), "srtp_policy_set_profile");
	check(srtp_policy_add_key(policy, key, key_len, key + key_len, salt_len, NULL, 0), "srtp_policy_add_key");
	check(srtp_policy_set_window_size(policy, 1024), "srtp_policy_set_window_size");
	check(srtp_create(&session, policy), "srtp_create");
	srtp_policy_destroy(policy);

	memset(rtp, 0xab, sizeof(rtp));
	rtp[0] = 0x80; /* V=2 */
	rtp[1] = 96;   /* PT */
	rtp[8] = 0x12; /* SSRC 0x12345678 */
	rtp[9] = 0x34;
	rtp[10] = 0x56;
	rtp[11] = 0x78;

	/* Best of REPEATS runs: the CI/dev machines are shared and noisy. */
	double best = -1;

	for (long i = 0, n = warmup + REPEATS * packets; i < n; i++)
	{
		uint16_t seq   = (uint16_t)i;
		uint32_t ts    = (uint32_t)i * 3000;
		size_t out_len = sizeof(out);

		if (i >= warmup && (i - warmup) % packets == 0)
		{
			double t = now_us();

			if (i > warmup && (best < 0 || t - start < best))
				best = t - start;

			start = t;
		}

		rtp[2] = (uint8_t)(seq >> 8);
		rtp[3] = (uint8_t)seq;
		rtp[4] = (uint8_t)(ts >> 24);
		rtp[5] = (uint8_t)(ts >> 16);
		rtp[6] = (uint8_t)(ts >> 8);
		rtp[7] = (uint8_t)ts;

		check(srtp_protect(session, rtp, sizeof(rtp), out, &out_len, 0), "srtp_protect");
	}

	double last = now_us() - start;

	if (best < 0 || last < best)
		best = last;

	check(srtp_dealloc(session), "srtp_dealloc");

	return best / (double)packets;
}

int main(int argc, char** argv)
{
	long packets = argc > 1 ? atol(argv[1]) : 200000;

	if (packets <= 0)
	{
		fprintf(stderr, "usage: %s [packets]\n", argv[0]);
		return 2;
	}

	check(srtp_init(), "srtp_init");

	printf(
	  "# %s, RTP packets of %d bytes, microseconds per srtp_protect (best of %d x %ld)\n",
	  srtp_get_version_string(),
	  RTP_PACKET_LEN,
	  REPEATS,
	  packets);
	printf("AES_CM_128_HMAC_SHA1_80 %.3f\n", bench_profile(srtp_profile_aes128_cm_sha1_80, packets));
	printf("AEAD_AES_128_GCM %.3f\n", bench_profile(srtp_profile_aead_aes_128_gcm, packets));
	printf("AEAD_AES_256_GCM %.3f\n", bench_profile(srtp_profile_aead_aes_256_gcm, packets));

	srtp_shutdown();

	return 0;
}
