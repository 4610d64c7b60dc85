package simcard

// AID is the application identifier of the CA-SIM applet, selected with
// SELECT by DF name: F0 43 41 53 49 4D 01 ("CASIM" under the proprietary
// F0 range, version 1). It must not be modified.
var AID = []byte{0xF0, 0x43, 0x41, 0x53, 0x49, 0x4D, 0x01}

// Classes of the commands the applet accepts. ISO/IEC 7816-4 instructions use
// ClassISO, the proprietary ones ClassProprietary; ClassChaining is OR-ed into
// either on every command of a chain but the last.
const (
	ClassISO         byte = 0x00
	ClassProprietary byte = 0x80
	ClassChaining    byte = 0x10
)

// Instructions of the applet (PROTOCOL.md §2 gives every parameter).
const (
	InsSelect            byte   = 0xA4 // SELECT by DF name
	InsGetData           byte   = 0xCA // GET DATA, P1P2 = tag
	InsPutData           byte   = 0xDA // PUT DATA, personalisation only
	InsVerify            byte   = 0x20 // VERIFY PIN
	InsChangeReference   byte   = 0x24 // CHANGE REFERENCE DATA (new PIN)
	InsResetRetryCounter byte   = 0x2C // RESET RETRY COUNTER with the PUK
	InsGenerateKey       byte   = 0x47 // GENERATE ASYMMETRIC KEY PAIR, personalisation only
	InsActivate          byte   = 0x44 // ACTIVATE FILE: end of personalisation
	InsInternalAuth      byte   = 0x88 // INTERNAL AUTHENTICATE: sign a challenge, domain-separated
	InsGetResponse       byte   = 0xC0 // GET RESPONSE
	InsSignRecord        byte   = 0x50 // SIGN RECORD (proprietary), P1 = record type
	InsAdvert            byte   = 0x52 // GET ADVERT (proprietary), P1 = role, P2 = flags
	RefPIN               byte   = 0x80 // P2 of VERIFY, CHANGE and RESET: the PIN
	GenerateKeyP1        byte   = 0x80 // P1 of GENERATE KEY: generate a new pair
	ResetWithNewPIN      byte   = 0x00 // P1 of RESET RETRY COUNTER: PUK then new PIN
	ResetKeepPIN         byte   = 0x01 // P1 of RESET RETRY COUNTER: PUK only
	SelectByName         byte   = 0x04 // P1 of SELECT
	SelectFCI            byte   = 0x00 // P2 of SELECT: return the FCI
	SelectNoData         byte   = 0x0C // P2 of SELECT: no response data
	AppletVersion        byte   = 0x01 // applet version in the FCI (tag 80 of A5)
	MaxChallenge                = 64   // longest INTERNAL AUTHENTICATE challenge
	MinChallenge                = 8    // shortest INTERNAL AUTHENTICATE challenge
	MaxCommandData              = 8192 // longest command data, chained or extended
	AdvertEpochSize             = 4    // GET ADVERT data: the epoch, uint32 big-endian
	PublicKeyTag         uint16 = 0x7F49
	PublicKeyPointTag    byte   = 0x86
)

// Data-object tags of GET DATA and PUT DATA (P1P2).
const (
	TagICCID       uint16 = 0x0101 // ICCID, ASCII digits; written at personalisation (another drops the certificate)
	TagCertificate uint16 = 0x0102 // card certificate, DER
	TagPublicKey   uint16 = 0x0103 // card public key, uncompressed point 04 || X || Y
	TagCounter     uint16 = 0x0104 // signature counter, uint64 big-endian: the last counter used
	TagPINStatus   uint16 = 0x0105 // PIN tries left, PIN tries allowed (two octets)
	TagPUKStatus   uint16 = 0x0106 // PUK tries left, PUK tries allowed (two octets)
	TagChain       uint16 = 0x0107 // issuer certificates, DER, concatenated, nearest first; PUT DATA without data deletes them
	TagLifeCycle   uint16 = 0x0108 // life-cycle state, one octet
	TagAdvSecret   uint16 = 0x0110 // advertising secret, 16 octets; personalisation only
	TagPIN         uint16 = 0x0120 // PUT DATA only: the initial PIN
	TagPUK         uint16 = 0x0121 // PUT DATA only: the PUK
)

// Life-cycle states of the applet (TagLifeCycle, and tag 81 of the FCI).
const (
	// LifePersonalisation: the card accepts PUT DATA and GENERATE KEY and
	// reveals its advertising secret; it signs nothing.
	LifePersonalisation byte = 0x01
	// LifeOperational: personalisation is over (ACTIVATE); the card signs
	// and never again reveals its secret or accepts new reference data
	// except through the PIN and PUK instructions.
	LifeOperational byte = 0x07
)

// PIN and PUK formats.
const (
	MinPIN       = 4  // digits
	MaxPIN       = 12 // digits
	PUKLength    = 8  // digits, as the PUK of a GSM SIM
	DefaultTries = 3  // tries of the PIN and of the PUK
	MaxTries     = 15 // most tries a card may give the PIN or the PUK: what 63Cx can report
)

// Status words of the applet.
const (
	SWSuccess             uint16 = 0x9000
	SWBytesRemaining      uint16 = 0x6100 // low octet: bytes left for GET RESPONSE (00: 256 or more)
	SWWrongPINBase        uint16 = 0x63C0 // low nibble: tries left
	SWMemoryFailure       uint16 = 0x6581
	SWWrongLength         uint16 = 0x6700
	SWChainingUnsupported uint16 = 0x6884
	SWLastCommandExpected uint16 = 0x6883
	SWSecurityStatus      uint16 = 0x6982
	SWBlocked             uint16 = 0x6983
	SWConditions          uint16 = 0x6985
	SWWrongData           uint16 = 0x6A80
	SWFileNotFound        uint16 = 0x6A82
	SWWrongP1P2           uint16 = 0x6A86
	SWDataNotFound        uint16 = 0x6A88
	SWInsNotSupported     uint16 = 0x6D00
	SWClassNotSupported   uint16 = 0x6E00
	SWNoDiagnosis         uint16 = 0x6F00 // key generation or signing failed
)
