package sqlmigrate

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []Migration
		wantErr error
	}{
		{
			name: "sorted by number, not by name",
			fsys: fstest.MapFS{
				"m/10_ten.sql":  file("10"),
				"m/2_two.sql":   file("2"),
				"m/1_one.sql":   file("1"),
				"m/README.md":   file("not a migration"),
				"m/3_three.sql": file("3"),
				"m/4_four.sql":  file("4"),
				"m/5_five.sql":  file("5"),
				"m/6_six.sql":   file("6"),
				"m/7_seven.sql": file("7"),
				"m/8_eight.sql": file("8"),
				"m/9_nine.sql":  file("9"),
			},
			want: []Migration{
				{1, "one", "1"}, {2, "two", "2"}, {3, "three", "3"}, {4, "four", "4"}, {5, "five", "5"},
				{6, "six", "6"}, {7, "seven", "7"}, {8, "eight", "8"}, {9, "nine", "9"}, {10, "ten", "10"},
			},
		},
		{
			name: "zero padded",
			fsys: fstest.MapFS{"m/0001_init.sql": file("a"), "m/0002_more.sql": file("b")},
			want: []Migration{{1, "init", "a"}, {2, "more", "b"}},
		},
		{name: "gap", fsys: fstest.MapFS{"m/1_a.sql": file(""), "m/3_c.sql": file("")}, wantErr: ErrBadMigration},
		{name: "duplicate", fsys: fstest.MapFS{"m/1_a.sql": file(""), "m/01_b.sql": file("")}, wantErr: ErrBadMigration},
		{name: "no version", fsys: fstest.MapFS{"m/init.sql": file("")}, wantErr: ErrBadMigration},
		{name: "no name", fsys: fstest.MapFS{"m/1_.sql": file("")}, wantErr: ErrBadMigration},
		{name: "version zero", fsys: fstest.MapFS{"m/0_a.sql": file("")}, wantErr: ErrBadMigration},
		{name: "negative", fsys: fstest.MapFS{"m/-1_a.sql": file("")}, wantErr: ErrBadMigration},
		{name: "plus sign", fsys: fstest.MapFS{"m/+1_a.sql": file("")}, wantErr: ErrBadMigration},
		{name: "spaces", fsys: fstest.MapFS{"m/ 1_a.sql": file("")}, wantErr: ErrBadMigration},
		{name: "letter after a digit", fsys: fstest.MapFS{"m/1a_a.sql": file("")}, wantErr: ErrBadMigration},
		{name: "hex prefix", fsys: fstest.MapFS{"m/0x1_a.sql": file("")}, wantErr: ErrBadMigration},
		{name: "space after a digit", fsys: fstest.MapFS{"m/1 _a.sql": file("")}, wantErr: ErrBadMigration},
		{name: "does not start at one", fsys: fstest.MapFS{"m/2_a.sql": file("")}, wantErr: ErrBadMigration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(tt.fsys, "m")
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadMissingDir(t *testing.T) {
	_, err := Read(fstest.MapFS{}, "nowhere")
	require.ErrorIs(t, err, fs.ErrNotExist)
}

// FuzzRead reads one file of any name: Read never panics, and a file it
// takes is a "<version>_<name>.sql" file of version 1 whose version is
// decimal digits, read back with its content.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"0001_init.sql", "1_a.sql", "+1_a.sql", "-1_a.sql", "1_.sql", "_a.sql", "1.sql", "x_1.sql", "README.md"} {
		f.Add(name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !fs.ValidPath(name) || strings.Contains(name, "/") {
			return // not a file name of the folder
		}
		got, err := Read(fstest.MapFS{"m/" + name: &fstest.MapFile{Data: []byte("SELECT 1")}}, "m")
		if err != nil {
			require.ErrorIs(t, err, ErrBadMigration)
			return
		}
		if !strings.HasSuffix(name, ".sql") {
			require.Empty(t, got)
			return
		}
		require.Len(t, got, 1)
		num, rest, ok := strings.Cut(name, "_")
		require.True(t, ok)
		require.NotEmpty(t, num)
		require.Empty(t, strings.Trim(num, "0123456789"), "version %q", num)
		require.Equal(t, Migration{Version: 1, Name: strings.TrimSuffix(rest, ".sql"), SQL: "SELECT 1"}, got[0])
	})
}
