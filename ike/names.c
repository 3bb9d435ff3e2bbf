/*
 * Name tables for the IKEv2 numbers of ike/ikev2.h. A few values that
 * ikev2.h does not define (because the agent never acts on them) are
 * listed by number, from the IANA "IKEv2 Parameters" registry, so logs
 * still name them when a gateway sends them.
 */
#include "ike/names.h"

#include <stdio.h>

#include "ike/ikev2.h"

struct name {
	uint16_t v;
	const char *s;
};

#define NAME(x)		{ x, #x }
#define NAME_N(x)	{ N_##x, #x }
#define COUNT(t)	(sizeof(t) / sizeof((t)[0]))

static const char *unknown(const char *prefix, unsigned v)
{
	static __thread char ring[IKE_NAME_RING][24];
	static __thread unsigned next;
	char *buf = ring[next++ % IKE_NAME_RING];

	snprintf(buf, sizeof(ring[0]), "%s(%u)", prefix, v);
	return buf;
}

static const char *lookup(const struct name *t, size_t n, unsigned v, const char *prefix)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].v == v)
			return t[i].s;
	}
	return unknown(prefix, v);
}

static const struct name exchanges[] = {
	NAME(IKE_SA_INIT), NAME(IKE_AUTH), NAME(CREATE_CHILD_SA), NAME(INFORMATIONAL),
	{ 43, "IKE_INTERMEDIATE" },	/* RFC 9242 */
};

const char *ike_exchange_name(uint8_t exchange)
{
	return lookup(exchanges, COUNT(exchanges), exchange, "EXCHANGE");
}

static const struct name payloads[] = {
	{ PL_NONE, "NONE" }, { PL_SA, "SA" }, { PL_KE, "KE" }, { PL_IDi, "IDi" },
	{ PL_IDr, "IDr" }, { PL_CERT, "CERT" }, { PL_CERTREQ, "CERTREQ" },
	{ PL_AUTH, "AUTH" }, { PL_NONCE, "NONCE" }, { PL_NOTIFY, "NOTIFY" }, { PL_DELETE, "DELETE" },
	{ PL_VENDOR, "VENDOR" }, { PL_TSi, "TSi" }, { PL_TSr, "TSr" }, { PL_SK, "SK" },
	{ PL_CP, "CP" }, { PL_EAP, "EAP" }, { PL_SKF, "SKF" },
};

const char *ike_payload_name(uint8_t type)
{
	return lookup(payloads, COUNT(payloads), type, "PAYLOAD");
}

static const struct name notifies[] = {
	NAME_N(UNSUPPORTED_CRITICAL_PAYLOAD), NAME_N(INVALID_IKE_SPI),
	NAME_N(INVALID_MAJOR_VERSION), NAME_N(INVALID_SYNTAX), NAME_N(INVALID_MESSAGE_ID),
	NAME_N(INVALID_SPI), NAME_N(NO_PROPOSAL_CHOSEN), NAME_N(INVALID_KE_PAYLOAD),
	NAME_N(AUTHENTICATION_FAILED), NAME_N(SINGLE_PAIR_REQUIRED), NAME_N(NO_ADDITIONAL_SAS),
	NAME_N(INTERNAL_ADDRESS_FAILURE), NAME_N(FAILED_CP_REQUIRED), NAME_N(TS_UNACCEPTABLE),
	NAME_N(INVALID_SELECTORS), NAME_N(UNACCEPTABLE_ADDRESSES),
	NAME_N(UNEXPECTED_NAT_DETECTED), NAME_N(TEMPORARY_FAILURE), NAME_N(CHILD_SA_NOT_FOUND),
	NAME_N(INITIAL_CONTACT), NAME_N(SET_WINDOW_SIZE), NAME_N(ADDITIONAL_TS_POSSIBLE),
	NAME_N(IPCOMP_SUPPORTED), NAME_N(NAT_DETECTION_SOURCE_IP),
	NAME_N(NAT_DETECTION_DESTINATION_IP), NAME_N(COOKIE), NAME_N(USE_TRANSPORT_MODE),
	NAME_N(HTTP_CERT_LOOKUP_SUPPORTED), NAME_N(REKEY_SA),
	NAME_N(ESP_TFC_PADDING_NOT_SUPPORTED), NAME_N(NON_FIRST_FRAGMENTS_ALSO),
	NAME_N(MOBIKE_SUPPORTED), NAME_N(ADDITIONAL_IP4_ADDRESS), NAME_N(ADDITIONAL_IP6_ADDRESS),
	NAME_N(NO_ADDITIONAL_ADDRESSES), NAME_N(UPDATE_SA_ADDRESSES), NAME_N(COOKIE2),
	NAME_N(NO_NATS_ALLOWED), NAME_N(EAP_ONLY_AUTHENTICATION),
	NAME_N(IKEV2_FRAGMENTATION_SUPPORTED), NAME_N(SIGNATURE_HASH_ALGORITHMS),
	/* not in ikev2.h: seen from gateways, named for logs only */
	{ 16403, "AUTH_LIFETIME" }, { 16404, "MULTIPLE_AUTH_SUPPORTED" },
	{ 16405, "ANOTHER_AUTH_FOLLOWS" }, { 16406, "REDIRECT_SUPPORTED" },
	{ 16407, "REDIRECT" }, { 16408, "REDIRECTED_FROM" },
	{ 16418, "CHILDLESS_IKEV2_SUPPORTED" }, { 16419, "QUICK_CRASH_DETECTION" },
	{ 16420, "IKEV2_MESSAGE_ID_SYNC_SUPPORTED" }, { 16432, "CLONE_IKE_SA_SUPPORTED" },
	{ 16435, "USE_PPK" }, { 16438, "INTERMEDIATE_EXCHANGE_SUPPORTED" },
	{ 16439, "IP4_ALLOWED" }, { 16440, "IP6_ALLOWED" },
	{ 16441, "ADDITIONAL_KEY_EXCHANGE" }, { 16442, "USE_AGGFRAG" },
};

const char *ike_notify_name(uint16_t type)
{
	return lookup(notifies, COUNT(notifies), type, "NOTIFY");
}

static const struct name protos[] = {
	{ PROTO_NONE, "NONE" }, { PROTO_IKE, "IKE" }, { PROTO_AH, "AH" }, { PROTO_ESP, "ESP" },
};

const char *ike_proto_name(uint8_t proto)
{
	return lookup(protos, COUNT(protos), proto, "PROTO");
}

static const struct name trans_types[] = {
	{ TRANS_ENCR, "ENCR" }, { TRANS_PRF, "PRF" }, { TRANS_INTEG, "INTEG" },
	{ TRANS_DH, "DH" }, { TRANS_ESN, "ESN" },
};

const char *ike_transform_type_name(uint8_t type)
{
	return lookup(trans_types, COUNT(trans_types), type, "TRANSFORM");
}

static const struct name encrs[] = {
	NAME(ENCR_AES_CBC), NAME(ENCR_AES_GCM_16), NAME(ENCR_CHACHA20_POLY1305),
	/* not in ikev2.h, for logs only */
	{ 3, "ENCR_3DES" }, { 11, "ENCR_NULL" }, { 13, "ENCR_AES_CTR" },
	{ 14, "ENCR_AES_CCM_8" }, { 16, "ENCR_AES_CCM_16" },
	{ 18, "ENCR_AES_GCM_8" }, { 19, "ENCR_AES_GCM_12" },
};

static const struct name prfs[] = {
	NAME(PRF_HMAC_SHA2_256), NAME(PRF_HMAC_SHA2_384), NAME(PRF_HMAC_SHA2_512),
	{ 1, "PRF_HMAC_MD5" }, { 2, "PRF_HMAC_SHA1" }, { 4, "PRF_AES128_XCBC" },
	{ 8, "PRF_AES128_CMAC" },
};

static const struct name integs[] = {
	NAME(AUTH_NONE), NAME(AUTH_HMAC_SHA2_256_128), NAME(AUTH_HMAC_SHA2_384_192),
	NAME(AUTH_HMAC_SHA2_512_256),
	{ 1, "AUTH_HMAC_MD5_96" }, { 2, "AUTH_HMAC_SHA1_96" }, { 5, "AUTH_AES_XCBC_96" },
	{ 8, "AUTH_AES_CMAC_96" },
};

static const struct name dhs[] = {
	{ DH_NONE, "NONE" }, { DH_MODP_2048, "MODP_2048" }, { DH_ECP_256, "ECP_256" },
	{ DH_ECP_384, "ECP_384" }, { DH_CURVE25519, "CURVE25519" },
	{ 2, "MODP_1024" }, { 5, "MODP_1536" }, { 15, "MODP_3072" }, { 16, "MODP_4096" },
	{ 17, "MODP_6144" }, { 18, "MODP_8192" }, { 21, "ECP_521" }, { 32, "CURVE448" },
};

static const struct name esns[] = {
	{ ESN_NO, "NO_ESN" }, { ESN_YES, "ESN" },
};

const char *ike_transform_name(uint8_t type, uint16_t id)
{
	switch (type) {
	case TRANS_ENCR:
		return lookup(encrs, COUNT(encrs), id, "ENCR");
	case TRANS_PRF:
		return lookup(prfs, COUNT(prfs), id, "PRF");
	case TRANS_INTEG:
		return lookup(integs, COUNT(integs), id, "INTEG");
	case TRANS_DH:
		return lookup(dhs, COUNT(dhs), id, "DH");
	case TRANS_ESN:
		return lookup(esns, COUNT(esns), id, "ESN");
	default:
		return unknown("TRANSFORM_ID", id);
	}
}

static const struct name id_types[] = {
	NAME(ID_IPV4_ADDR), NAME(ID_FQDN), NAME(ID_RFC822_ADDR), NAME(ID_IPV6_ADDR),
	NAME(ID_DER_ASN1_DN), NAME(ID_DER_ASN1_GN), NAME(ID_KEY_ID),
};

const char *ike_id_type_name(uint8_t type)
{
	return lookup(id_types, COUNT(id_types), type, "ID");
}

static const struct name auth_methods[] = {
	NAME(AUTH_RSA_SIG), NAME(AUTH_SHARED_KEY_MIC), NAME(AUTH_DSS_SIG),
	NAME(AUTH_ECDSA_256), NAME(AUTH_ECDSA_384), NAME(AUTH_ECDSA_521),
	NAME(AUTH_DIGITAL_SIGNATURE),
};

const char *ike_auth_method_name(uint8_t method)
{
	return lookup(auth_methods, COUNT(auth_methods), method, "AUTH");
}

static const struct name cert_encodings[] = {
	NAME(CERT_X509_SIGNATURE), NAME(CERT_HASH_URL_X509),
};

const char *ike_cert_encoding_name(uint8_t encoding)
{
	return lookup(cert_encodings, COUNT(cert_encodings), encoding, "CERT");
}

static const struct name ts_types[] = {
	NAME(TS_IPV4_ADDR_RANGE), NAME(TS_IPV6_ADDR_RANGE),
};

const char *ike_ts_type_name(uint8_t type)
{
	return lookup(ts_types, COUNT(ts_types), type, "TS");
}

static const struct name cfg_types[] = {
	NAME(CFG_REQUEST), NAME(CFG_REPLY), NAME(CFG_SET), NAME(CFG_ACK),
};

const char *ike_cfg_type_name(uint8_t type)
{
	return lookup(cfg_types, COUNT(cfg_types), type, "CFG");
}

static const struct name cfg_attrs[] = {
	NAME(INTERNAL_IP4_ADDRESS), NAME(INTERNAL_IP4_NETMASK), NAME(INTERNAL_IP4_DNS),
	NAME(INTERNAL_IP4_NBNS), NAME(INTERNAL_IP4_DHCP), NAME(APPLICATION_VERSION),
	NAME(INTERNAL_IP6_ADDRESS), NAME(INTERNAL_IP6_DNS), NAME(INTERNAL_IP6_DHCP),
	NAME(INTERNAL_IP4_SUBNET), NAME(SUPPORTED_ATTRIBUTES), NAME(INTERNAL_IP6_SUBNET),
	NAME(INTERNAL_DNS_DOMAIN),
};

const char *ike_cfg_attr_name(uint16_t type)
{
	return lookup(cfg_attrs, COUNT(cfg_attrs), type, "CFG_ATTR");
}
