/*
 * libsrtp 3 API over libsrtp 2.5 (compatibility header).
 *
 * mediasoup 3.27 is written against versatica's libsrtp 3.0.0-beta, which we
 * cannot download. We build Debian's libsrtp2 2.5.0 source instead (OpenSSL
 * backend) and provide here the subset of the libsrtp 3 API that the worker
 * calls (checked by grepping worker/src and worker/include for srtp_*):
 *
 *   - opaque policy handle: srtp_policy_create/destroy/set_ssrc/set_profile/
 *     add_key/set_allow_repeat_tx/set_window_size; srtp_create() takes it.
 *   - out-of-place, size_t based srtp_protect/unprotect(_rtcp) with an output
 *     capacity (libsrtp 2 works in place with int lengths).
 *   - srtp_stream_remove (libsrtp 2 calls it srtp_remove_stream).
 *   - error codes srtp_err_status_buffer_small / srtp_err_status_cryptex_err.
 *
 * Everything else the worker uses (srtp_init, srtp_shutdown, srtp_create,
 * srtp_dealloc, event handler, profiles, srtp_profile_get_master_*_length,
 * SRTP_MAX_TRAILER_LEN, ...) has the same name and meaning in libsrtp 2.
 *
 * Not supported: MKI (srtp_policy_add_key with an MKI fails with bad_param and
 * mki_index is ignored); mediasoup never uses MKI.
 *
 * This file must be found as <srtp.h> before libsrtp2's own include/srtp.h,
 * which is why the libsrtp3 shim exposes copies of libsrtp2's public headers
 * under include/srtp2/ instead of libsrtp2's source include directory.
 */
#ifndef CALLING_SERVICE_SRTP3_COMPAT_H
#define CALLING_SERVICE_SRTP3_COMPAT_H

#include <srtp2/srtp.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

/* Error codes added in libsrtp 3 (values as in libsrtp 3's enum). */
#define srtp_err_status_buffer_small ((srtp_err_status_t)28)
#define srtp_err_status_cryptex_err ((srtp_err_status_t)29)

/*
 * libsrtp 3's srtp_policy_t is an opaque pointer. We allocate a libsrtp 2
 * policy struct plus storage for the concatenated master key || salt that
 * libsrtp 2 expects behind policy->key.
 */
typedef struct srtp3_compat_policy_storage {
	srtp_policy_t policy; /* first member: srtp_create() receives &policy */
	unsigned char key_and_salt[64];
} srtp3_compat_policy_storage;

typedef srtp_policy_t* srtp3_compat_policy_t;

static inline srtp_err_status_t srtp_policy_create(srtp3_compat_policy_t* policy)
{
	srtp3_compat_policy_storage* storage;

	if (policy == NULL)
		return srtp_err_status_bad_param;

	storage = (srtp3_compat_policy_storage*)calloc(1, sizeof(*storage));

	if (storage == NULL)
		return srtp_err_status_alloc_fail;

	*policy = &storage->policy;

	return srtp_err_status_ok;
}

static inline void srtp_policy_destroy(srtp3_compat_policy_t policy)
{
	/* policy points to the first member, i.e. to the allocation itself. */
	free(policy);
}

static inline srtp_err_status_t srtp_policy_set_ssrc(srtp3_compat_policy_t policy, srtp_ssrc_t ssrc)
{
	if (policy == NULL)
		return srtp_err_status_bad_param;

	policy->ssrc = ssrc;

	return srtp_err_status_ok;
}

static inline srtp_err_status_t srtp_policy_set_profile(
  srtp3_compat_policy_t policy, srtp_profile_t profile)
{
	srtp_err_status_t err;

	if (policy == NULL)
		return srtp_err_status_bad_param;

	err = srtp_crypto_policy_set_from_profile_for_rtp(&policy->rtp, profile);

	if (err != srtp_err_status_ok)
		return err;

	return srtp_crypto_policy_set_from_profile_for_rtcp(&policy->rtcp, profile);
}

static inline srtp_err_status_t srtp_policy_add_key(
  srtp3_compat_policy_t policy,
  const uint8_t* key,
  size_t key_len,
  const uint8_t* salt,
  size_t salt_len,
  const uint8_t* mki,
  size_t mki_len)
{
	unsigned char* buf;

	if (policy == NULL || key == NULL || (salt == NULL && salt_len != 0))
		return srtp_err_status_bad_param;

	/* Single master key only: libsrtp 2 handles MKIs through a different API. */
	if (mki != NULL || mki_len != 0)
		return srtp_err_status_bad_param;

	buf = ((srtp3_compat_policy_storage*)policy)->key_and_salt;

	if (key_len + salt_len > sizeof(((srtp3_compat_policy_storage*)0)->key_and_salt))
		return srtp_err_status_bad_param;

	/* When the profile is known, libsrtp 2 reads exactly cipher_key_len bytes. */
	if (policy->rtp.cipher_key_len != 0 && (int)(key_len + salt_len) != policy->rtp.cipher_key_len)
		return srtp_err_status_bad_param;

	memcpy(buf, key, key_len);

	if (salt_len != 0)
		memcpy(buf + key_len, salt, salt_len);

	policy->key = buf;

	return srtp_err_status_ok;
}

static inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(
  srtp3_compat_policy_t policy, bool allow)
{
	if (policy == NULL)
		return srtp_err_status_bad_param;

	policy->allow_repeat_tx = allow ? 1 : 0;

	return srtp_err_status_ok;
}

static inline srtp_err_status_t srtp_policy_set_window_size(
  srtp3_compat_policy_t policy, size_t window_size)
{
	/* Same bounds libsrtp 2 enforces later in srtp_create(). */
	if (policy == NULL || window_size < 64 || window_size >= 0x8000)
		return srtp_err_status_bad_param;

	policy->window_size = (unsigned long)window_size;

	return srtp_err_status_ok;
}

static inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}

/*
 * libsrtp 3 protect/unprotect are out of place with an output capacity;
 * libsrtp 2 works in place and may append up to `trailer` bytes. Copy first
 * (no-op when in place), then call libsrtp 2 on the output buffer.
 */
static inline srtp_err_status_t srtp3_compat_run(
  srtp_err_status_t (*fn)(srtp_t, void*, int*),
  srtp_t ctx,
  const uint8_t* in,
  size_t in_len,
  uint8_t* out,
  size_t* out_len,
  size_t trailer)
{
	int len;
	srtp_err_status_t err;

	if (in == NULL || out == NULL || out_len == NULL)
		return srtp_err_status_bad_param;

	if (in_len > (size_t)INT_MAX - trailer)
		return srtp_err_status_bad_param;

	if (*out_len < in_len + trailer)
		return srtp_err_status_buffer_small;

	if (out != in)
		memmove(out, in, in_len);

	len = (int)in_len;
	err = fn(ctx, out, &len);

	if (err != srtp_err_status_ok)
		return err;

	*out_len = (size_t)len;

	return srtp_err_status_ok;
}

static inline srtp_err_status_t srtp3_compat_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtp_len, uint8_t* srtp, size_t* srtp_len, size_t mki_index)
{
	(void)mki_index;

	return srtp3_compat_run(srtp_protect, ctx, rtp, rtp_len, srtp, srtp_len, SRTP_MAX_TRAILER_LEN);
}

static inline srtp_err_status_t srtp3_compat_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtp_len, uint8_t* rtp, size_t* rtp_len)
{
	return srtp3_compat_run(srtp_unprotect, ctx, srtp, srtp_len, rtp, rtp_len, 0);
}

static inline srtp_err_status_t srtp3_compat_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcp_len, uint8_t* srtcp, size_t* srtcp_len, size_t mki_index)
{
	(void)mki_index;

	/* SRTCP adds the 4-byte E+index word on top of the SRTP trailer. */
	return srtp3_compat_run(
	  srtp_protect_rtcp, ctx, rtcp, rtcp_len, srtcp, srtcp_len, SRTP_MAX_TRAILER_LEN + 4);
}

static inline srtp_err_status_t srtp3_compat_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcp_len, uint8_t* rtcp, size_t* rtcp_len)
{
	return srtp3_compat_run(srtp_unprotect_rtcp, ctx, srtcp, srtcp_len, rtcp, rtcp_len, 0);
}

/*
 * Rename last, after every call above has bound to the libsrtp 2 functions:
 * from here on the libsrtp 3 names refer to the wrappers / the opaque handle.
 */
#define srtp_protect srtp3_compat_protect
#define srtp_unprotect srtp3_compat_unprotect
#define srtp_protect_rtcp srtp3_compat_protect_rtcp
#define srtp_unprotect_rtcp srtp3_compat_unprotect_rtcp
#define srtp_policy_t srtp3_compat_policy_t

#endif /* CALLING_SERVICE_SRTP3_COMPAT_H */
