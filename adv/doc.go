// Package adv is the Bluetooth LE advertisement of casimpay: the 31-octet
// advert a CA-SIM broadcasts with its role and a rotating ephemeral ID (EID),
// a walker over the AD structures of any advert, the EID derivation shared by
// the card and the cloud, the cloud's EID resolver, and the 6-digit pairing
// code both phones show. PROTOCOL.md §1 is the wire contract.
//
// # The advert
//
// A Packet holds the role (Shopper or Seller), the EID, the calibrated
// transmit power and the flags. AppendBinary and MarshalBinary write it as
// legacy advertising data: Flags, the 16-bit service UUID list, and 20 octets
// of service data under the service UUID. The UUID is DefaultUUID, a
// placeholder, unless a Codec names the deployment's own.
//
// Parse reads whatever a scanner hands over (adverts of any kind, scan
// responses, padding, truncated structures) and tells apart what is not ours
// (ErrForeign), what is broken (ErrMalformed), and our service data with an
// unknown version, role or a reserved octet set (ErrVersion, ErrRole,
// ErrReserved). It never panics and does not allocate, so a scanner may call
// it on every report.
//
//	p, err := adv.Parse(scanRecord)
//	switch {
//	case errors.Is(err, adv.ErrForeign):
//		// someone else's beacon: ignore
//	case err != nil:
//		// ours but unusable: count it, ignore it
//	default:
//		q.Observe(p, rssi, now)
//	}
//
// Walker iterates over the AD structures of any advert, and Structure has
// helpers for the common AD types (flags, UUID lists, service data,
// manufacturer data, Tx power, local name).
//
// # Ephemeral IDs
//
// A card never broadcasts its card ID. It broadcasts an EID that changes
// every ten minutes (an epoch, see Epoch), derived from a 16-octet
// advertising secret it shares only with the cloud:
//
//	EIDK = HKDF-SHA256(secret, salt nil, info "CASIM-EIDK", 16 octets)
//	EID  = AES-128(EIDK, "CASIM-EID" || 00 00 00 || epoch uint32 little-endian)
//
// EIDKey holds EIDK with its AES key schedule, so that each EID costs one
// block encryption; DeriveEID does it all in one call. A Resolver holds the
// secrets of every enrolled card and maps an EID seen now back to its card.
// PairingCode turns the two EIDs of a shopper and a seller into the code both
// screens show.
package adv
