#!/bin/sh
# Builds a CA-SIM hierarchy with the openssl command line only: a root CA,
# a card-issuing CA, a card certificate of the profile (URI SAN and EKU;
# every certificate with the profile's SHA-256 subject key identifier, the
# root's authority key identifier its own), the CRLs of both CAs (and two
# malformed ones), then revokes the card with `openssl ca -revoke` and
# issues the card CA's next CRL, and the one after it without an authority
# key identifier. Usage: make.sh OUTDIR [ICCID]
# The files in this directory were made by `sh make.sh .`; the tests of
# package pki run it again in a temporary directory when openssl is present.
set -eu
out=$1
iccid=${2:-89014103211118510720}
mkdir -p "$out"
cd "$out"
rm -rf db && mkdir -p db/root db/card
for d in root card; do
	: > db/$d/index.txt
	echo 01 > db/$d/crlnumber
done

q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }
key() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
# ski prints the subject key identifier of the profile (PROTOCOL.md §4.3,
# RFC 7093 §2 method 1) of a P-256 key: the first 160 bits of the SHA-256
# of the subjectPublicKey BIT STRING's value, the 65-byte uncompressed
# point that ends the key's SubjectPublicKeyInfo. OpenSSL's own
# `subjectKeyIdentifier = hash` is the SHA-1 of that value (RFC 5280
# §4.2.1.2 method 1).
ski() {
	q openssl pkey -in "$1" -pubout -outform DER -out spki.der
	[ "$(wc -c < spki.der)" -eq 91 ] || { echo "failed: $1 is not a P-256 key" >&2; exit 1; }
	tail -c 65 spki.der | openssl dgst -sha256 -r | cut -c1-40
}

key root.key
key ca.key
key card.key
ski_root=$(ski root.key)
ski_ca=$(ski ca.key)
ski_card=$(ski card.key)
rm spki.der
# serial prints a serial number of the profile (PROTOCOL.md §4.1): 127
# random bits, in hex (openssl's rand_serial draws 159).
serial() {
	s=$(openssl rand -hex 16)
	[ ${#s} -eq 32 ] || { echo "failed: openssl rand" >&2; exit 1; }
	printf '%x%s\n' $((0x$(printf %.1s "$s") & 7)) "${s#?}"
}

cat > openssl.cnf <<CNF
[ ca ]
default_ca = ca_card

[ ca_root ]
dir = db/root
database = \$dir/index.txt
crlnumber = \$dir/crlnumber
new_certs_dir = \$dir
serial = \$dir/serial
certificate = root.pem
private_key = root.key
default_md = sha256
default_days = 3650
default_crl_days = 3650
policy = policy_any
unique_subject = no
copy_extensions = none

[ ca_card ]
dir = db/card
database = \$dir/index.txt
crlnumber = \$dir/crlnumber
new_certs_dir = \$dir
serial = \$dir/serial
certificate = ca.pem
private_key = ca.key
default_md = sha256
default_days = 1825
default_crl_days = 3650
policy = policy_any
unique_subject = no
copy_extensions = none

[ ca_card_nonumber ]
dir = db/card
database = \$dir/index.txt
new_certs_dir = \$dir
certificate = ca.pem
private_key = ca.key
default_md = sha256
default_crl_days = 3650

[ policy_any ]
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused

[ v3_root ]
basicConstraints = critical, CA:true, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = $ski_root
authorityKeyIdentifier = keyid:always

[ v3_card_ca ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = $ski_ca
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://pki.example/openssl-root.crl

[ v3_card ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = 2.25.14867726572143155195053814763898743270
subjectAltName = URI:urn:casim:card:$iccid
subjectKeyIdentifier = $ski_card
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://pki.example/openssl-card.crl

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ crl_idp ]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp

[ idp ]
fullname = URI:http://pki.example/openssl-card.crl
CNF

serial_root=$(serial)
q openssl req -config openssl.cnf -new -x509 -key root.key -sha256 -days 7300 -set_serial "0x$serial_root" \
	-subj "/O=OpenSSL Test/CN=OpenSSL CA-SIM Root" -extensions v3_root -out root.pem

q openssl req -config openssl.cnf -new -key ca.key -subj "/O=OpenSSL Test/CN=OpenSSL CA-SIM Card CA" -out ca.csr
serial > db/root/serial
q openssl ca -config openssl.cnf -name ca_root -batch -notext -extensions v3_card_ca -in ca.csr -out ca.pem

q openssl req -config openssl.cnf -new -key card.key -subj "/CN=$iccid" -out card.csr
serial > db/card/serial
q openssl ca -config openssl.cnf -name ca_card -batch -notext -extensions v3_card -in card.csr -out card.pem

q openssl ca -config openssl.cnf -name ca_root -gencrl -crlexts crl_ext -out root-crl.pem
q openssl ca -config openssl.cnf -name ca_card -gencrl -crlexts crl_ext -out card-crl.pem
# Two CRLs the profile refuses: one without a CRL number, one with a
# critical issuing distribution point.
q openssl ca -config openssl.cnf -name ca_card_nonumber -gencrl -crlexts crl_ext -out card-crl-nonumber.pem
q openssl ca -config openssl.cnf -name ca_card -gencrl -crlexts crl_idp -out card-crl-idp.pem
q openssl ca -config openssl.cnf -name ca_card -revoke card.pem -crl_reason keyCompromise
q openssl ca -config openssl.cnf -name ca_card -gencrl -crlexts crl_ext -out card-crl-revoked.pem
# The next CRL as `openssl ca -gencrl` writes it without -crlexts: a CRL
# number but no authority key identifier, which the profile refuses.
q openssl ca -config openssl.cnf -name ca_card -gencrl -out card-crl-noaki.pem

rm -rf db ca.csr card.csr openssl.cnf
