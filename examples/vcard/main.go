// Command vcard is a virtual CA-SIM in a PC/SC reader: it runs the CA-SIM
// applet in process and inserts it into the virtual reader of vsmartcard's
// vpcd driver, so that pcscd and every PC/SC tool (opensc-tool, pcsc_scan)
// talk to it as to a real card.
//
// On first run (no state file, or a card never activated) it personalises
// a demo card: a random ICCID, a key generated on the card, a certificate
// from a self-contained demo CA (whose root is written next to the state
// file, as <state>.root.pem), the PIN and the PUK. It prints the ICCID and
// serves the card until SIGINT or SIGTERM, which end it with exit status
// 0; while vpcd does not answer (pcscd not started yet, or restarting), it
// connects again every second. A personalisation that fails once the card
// may be activated (ACTIVATE sent, its outcome unknown) logs the card's
// ICCID and advertising secret, which an activated card never reveals
// again, before the program ends with exit status 1.
//
// One process at a time may use a state file: vcard holds it while it
// runs, with an advisory lock (flock(2), where the system has it) on the
// file <state>.lock, which it creates beside it and leaves in place, as
// the demo's phone programs hold their card files. A state file that
// another process holds is refused at once, naming it (exit status 1), and
// so is one that is no card's state, which is left as it is, and one
// whose folder cannot be written (where the card's state is replaced at
// every store), with one line that names the folder and gives the
// system's reason, such as "vcard: the folder DIR of the card state file
// DIR/card.state cannot be written: permission denied", nothing written.
//
//	pcscd                      # loads vpcd, which listens on 127.0.0.1:35963
//	go run ./examples/vcard -state /tmp/card.state
//	opensc-tool -l             # the "Virtual PCD" reader now holds a card
//	opensc-tool -r 'Virtual PCD 00 00' -s 00A4040007F0434153494D0100 -s 00CA010100
//
// Flags:
//
//	-vpcd host:port   vpcd's address, a port from 1 to 65535 (default
//	                  127.0.0.1:35963)
//	-pin DIGITS       the PIN of a new card, 4 to 12 digits (default
//	                  123456); with -unblock, the card's new PIN
//	-puk DIGITS       the PUK of a new card, 8 digits (default 12345678);
//	                  with -unblock, the card's PUK
//	-state file       the card's state file (default vcard.state)
//	-unblock          before serving a card personalised before, present
//	                  -puk, its PUK, to unblock its PIN (RESET RETRY
//	                  COUNTER), -pin becoming its PIN with its tries
//	                  restored; both must be given, and the state file
//	                  must exist. A PIN not blocked is set all the same
//	                  (a forgotten PIN needs no wrong tries first)
//
// A flag value that is not one of these, or an argument after the flags,
// is refused with exit status 2 before any file is written, and so is
// -unblock without -pin and -puk or without a state file. A card
// personalised before keeps its PIN and PUK: a -pin or -puk given for it
// without -unblock is ignored, and the log says so. With -unblock, the log
// shows the PUK's tries left and the outcome; a wrong PUK (the tries left
// said) or a blocked one ends the program with exit status 1, the card not
// served and its PIN as it was, and so does a state file of a card never
// personalised. The outcome logged says whether the PIN was blocked: a PIN
// that had tries left is logged as set all the same, not as unblocked.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/casimpay/casimpay/simcard/vpcd"
)

func main() {
	// The usage names the program, not the binary that `go run` builds.
	fs := flag.NewFlagSet("vcard", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
	}
	addr := fs.String("vpcd", vpcd.DefaultAddr, "vpcd address `host:port`")
	pin := fs.String("pin", simcardtest.PIN, fmt.Sprintf("the PIN of a new card, %d to %d `DIGITS`; with -unblock, the card's new PIN", simcard.MinPIN, simcard.MaxPIN))
	puk := fs.String("puk", simcardtest.PUK, fmt.Sprintf("the PUK of a new card, %d `DIGITS`; with -unblock, the card's PUK, which unblocks its PIN", simcard.PUKLength))
	statePath := fs.String("state", "vcard.state", "card state `file`")
	unblock := fs.Bool("unblock", false, "unblock the PIN of the card personalised before with -puk, making -pin its PIN")
	fs.Parse(os.Args[1:])
	// refuse ends the program as the flag package does for a bad flag,
	// before the card's files or vpcd are touched.
	refuse := func(format string, args ...any) {
		fmt.Fprintf(fs.Output(), "vcard: "+format+"\n", args...)
		fs.Usage()
		os.Exit(2)
	}
	if fs.NArg() > 0 { // the flag package stops at it: a flag after it would be dropped unseen
		refuse("unexpected argument %q (the program takes only flags)", fs.Arg(0))
	}
	if err := vpcd.CheckAddr(*addr); err != nil {
		refuse("-vpcd: %v", err)
	}
	if *statePath == "" {
		refuse("-state needs a file")
	}
	// Kept for -unblock below, which needs the state file to exist.
	fi, statErr := os.Stat(*statePath)
	if statErr == nil && fi.IsDir() {
		refuse("-state %s is a directory, not a file", *statePath)
	}
	// Checked whether or not the card is new, so that a run on a new
	// state file is not the first to find them wrong.
	if !simcard.ValidPIN(*pin) || !simcard.ValidPUK(*puk) {
		refuse("-pin needs %d to %d digits and -puk %d", simcard.MinPIN, simcard.MaxPIN, simcard.PUKLength)
	}
	// A PIN or PUK not given is the default of a new card; given, run
	// says when the card keeps its own.
	given := map[string]string{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = f.Value.String() })
	if *unblock {
		if given["pin"] == "" || given["puk"] == "" {
			refuse("-unblock needs -puk, the card's PUK, and -pin, its new PIN")
		}
		if statErr != nil {
			refuse("-unblock needs the state file of a card personalised before: %v", statErr)
		}
	}
	log.SetFlags(log.LstdFlags | log.LUTC)

	ctx, stop := demo.NotifyContext()
	defer stop()
	if err := run(ctx, *addr, given["pin"], given["puk"], *statePath, *unblock); err != nil {
		log.Fatal(err)
	}
}

// run serves the card of statePath to vpcd at addr until ctx ends. It
// holds statePath first (demo.LockCard): a state file that another vcard,
// or another program such as the phones of the demo with their card
// files, holds is refused at once with an error naming it that matches
// demo.ErrCardInUse, one whose folder cannot be written with one naming
// the folder and giving the system's reason, which it wraps (such as
// fs.ErrPermission), and a state file that is no card's state with one
// naming it that matches applet.ErrState. A new card is personalised with
// pin and puk, or the demo's PIN and PUK where they are empty; a card
// personalised before keeps its own, and run logs that a pin or puk given
// is ignored. With unblock, run presents puk to unblock the PIN of a card
// personalised before, pin becoming its PIN (demo.UnblockPIN, which logs
// the PUK's tries and the outcome), before serving it, a PIN not blocked
// too: a wrong or blocked PUK fails with an error matching
// simcard.ErrWrongPUK or simcard.ErrPUKBlocked, and a card never
// personalised with an error saying so.
func run(ctx context.Context, addr, pin, puk, statePath string, unblock bool) error {
	unlock, err := demo.LockCard(statePath)
	if err != nil {
		return fmt.Errorf("vcard: %w", err)
	}
	defer unlock()
	a, err := applet.New(&applet.File{Path: statePath}, applet.Options{})
	if err != nil {
		return fmt.Errorf("vcard: card state %s: %w", statePath, err)
	}
	card := simcard.New(a)
	life, err := card.Select()
	if err != nil {
		return fmt.Errorf("vcard: card state %s: %w", statePath, err)
	}
	switch {
	case life == simcard.LifePersonalisation && unblock:
		return fmt.Errorf("vcard: -unblock: card state %s holds no personalised card", statePath)
	case life == simcard.LifePersonalisation:
		if err := personalise(card, cmp.Or(pin, simcardtest.PIN), cmp.Or(puk, simcardtest.PUK), statePath+".root.pem"); err != nil {
			return err
		}
	case unblock:
		if err := demo.UnblockPIN(card, puk, pin, log.Printf); err != nil {
			return fmt.Errorf("vcard: card state %s: %w", statePath, err)
		}
	case pin != "" || puk != "":
		var ignored []string
		for _, f := range []struct{ name, value string }{{"-pin", pin}, {"-puk", puk}} {
			if f.value != "" {
				ignored = append(ignored, f.name)
			}
		}
		log.Printf("vcard: %s ignored: the card was personalised before and keeps its own", strings.Join(ignored, " and "))
	}
	iccid, err := card.ICCID()
	if err != nil {
		return err
	}
	a.Reset()
	fmt.Printf("ICCID %s\n", iccid)
	log.Printf("serving the card to vpcd at %s until interrupted", addr)
	b := &vpcd.Bridge{Addr: addr, Card: a, Logf: log.Printf}
	return b.Run(ctx)
}

// personalise certifies the card with a demo CA made for it and writes the
// root certificate to rootPath. When Personalise fails having perhaps
// activated the card (it returns the Enrolment with its error), it logs
// the card's ICCID and advertising secret before returning the error,
// since an activated card never reveals its secret again.
func personalise(card *simcard.Card, pin, puk, rootPath string) error {
	if !simcard.ValidPIN(pin) || !simcard.ValidPUK(puk) {
		return fmt.Errorf("vcard: the PIN needs %d to %d digits and the PUK %d: %w",
			simcard.MinPIN, simcard.MaxPIN, simcard.PUKLength, simcard.ErrFormat)
	}
	root, issuer, err := simcardtest.NewCA()
	if err != nil {
		return err
	}
	iccid, err := simcardtest.RandomICCID(nil)
	if err != nil {
		return err
	}
	// The root first, on disk before the card is personalised: once it is,
	// a later run does not make a CA again, and this one lives only in
	// memory.
	if err := demo.WriteDurable(rootPath, pki.CertificatePEM(root.DER()), 0o644); err != nil {
		return err
	}
	enr, err := card.Personalise(issuer, simcard.Personalisation{ICCID: iccid, PIN: pin, PUK: puk})
	if err != nil && enr != nil {
		// The card may be activated, after which it never reveals its
		// secret again: the Enrolment is the only record of it.
		log.Printf("card %s may be activated: demo root CA in %s; advertising secret %x (for the cloud's enrolment)",
			enr.ICCID, rootPath, enr.AdvertisingSecret)
		return fmt.Errorf("vcard: personalise card %s: %w", enr.ICCID, err)
	}
	if err != nil {
		return err
	}
	log.Printf("personalised card %s; demo root CA in %s; advertising secret %x (for the cloud's enrolment)",
		enr.ICCID, rootPath, enr.AdvertisingSecret)
	return nil
}
