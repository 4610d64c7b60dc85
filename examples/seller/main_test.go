package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/examples/internal/demo"
)

// The purchase itself, with the cloud and the other phone, is tested in
// package examples/cloud.

func TestSellerErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		err  error
	}{
		{"help", []string{"-h"}, flag.ErrHelp},
		{"no cloud", []string{"-data", t.TempDir()}, os.ErrNotExist},
		{"no card", []string{"-data", t.TempDir(), "-url", "http://127.0.0.1:1"}, os.ErrNotExist},
		{"wait zero", []string{"-data", t.TempDir(), "-url", "http://127.0.0.1:1", "-wait", "0"}, demo.ErrUsage},
		{"wait negative", []string{"-data", t.TempDir(), "-url", "http://127.0.0.1:1", "-wait", "-1s"}, demo.ErrUsage},
		{"argument", []string{"-data", t.TempDir(), "-url", "http://127.0.0.1:1", "Alice", "-wait", "1s"}, demo.ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := demo.RunSeller(context.Background(), tt.args, &out)
			assert.ErrorIs(t, err, tt.err)
		})
	}
}

// TestSellerDataNotFolder: a -data naming a file is a usage error (exit
// status 2) that says so, with and without -url, reported before the
// program reads the folder, rather than the error of reading a file in it.
func TestSellerDataNotFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for _, args := range [][]string{{"-data", file}, {"-data", file, "-url", "http://127.0.0.1:1"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := demo.RunSeller(context.Background(), append(args, "-wait", "200ms"), &out)
			require.ErrorIs(t, err, demo.ErrUsage)
			assert.EqualError(t, err, "demo: invalid usage: -data "+file+" is not a folder")
			assert.Empty(t, out.String(), "refused before the card opens")
		})
	}
}

// TestSellerNoCloud: without -url, a data folder in which no cloud wrote
// its URL (cloud.url) ends the run (exit status 1) with an error that says
// that no cloud runs with it.
func TestSellerNoCloud(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := demo.RunSeller(context.Background(), []string{"-data", dir}, &out)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.NotErrorIs(t, err, demo.ErrUsage)
	assert.True(t, strings.HasPrefix(err.Error(), "no -url and no cloud running with -data "+dir+": "), err.Error())
	assert.Empty(t, out.String(), "refused before the card opens")
}
