package config

import (
	"encoding"
	"slices"
	"testing"
)

func TestTypedValuesRoundTrip(t *testing.T) {
	tests := []struct {
		text string
		into encoding.TextUnmarshaler
		ok   bool
	}{
		{"64999:100", new(Community), true},
		{"0:0", new(Community), true},
		{"65535:65535", new(Community), true},
		{"64999:100000", new(Community), false},
		{"064999:1", new(Community), false},
		{"+1:1", new(Community), false},
		{"1:2:3", new(Community), false},
		{"1", new(Community), false},
		{"", new(Community), false},
		{"4294967295:0:1", new(LargeCommunity), true},
		{"4294967296:0:1", new(LargeCommunity), false},
		{"1:2", new(LargeCommunity), false},
		{"65000", new(RemoteAS), true},
		{"internal", new(RemoteAS), true},
		{"external", new(RemoteAS), true},
		{"0", new(RemoteAS), false},
		{"4294967296", new(RemoteAS), false},
		{"ibgp", new(RemoteAS), false},
	}
	for _, tt := range tests {
		err := tt.into.UnmarshalText([]byte(tt.text))
		if (err == nil) != tt.ok {
			t.Errorf("%T(%q): error %v, want ok=%v", tt.into, tt.text, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		back, err := tt.into.(encoding.TextMarshaler).MarshalText()
		if err != nil || string(back) != tt.text {
			t.Errorf("%T(%q) marshals back to %q, %v", tt.into, tt.text, back, err)
		}
	}
}

func TestCommunitiesSortNumerically(t *testing.T) {
	cs := communities("64999:100", "100:2", "64999:20", "100:10")
	slices.SortFunc(cs, Community.Compare)
	want := communities("100:2", "100:10", "64999:20", "64999:100")
	if !slices.Equal(cs, want) {
		t.Errorf("sorted %v, want %v", cs, want)
	}
	ls := largeCommunities("2:0:1", "1:5:1", "1:10:0")
	slices.SortFunc(ls, LargeCommunity.Compare)
	if want := largeCommunities("1:5:1", "1:10:0", "2:0:1"); !slices.Equal(ls, want) {
		t.Errorf("sorted %v, want %v", ls, want)
	}
}
