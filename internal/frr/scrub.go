package frr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// extraScrubber takes the operator's extra config (frr.extra_config) out of FRR's messages
// before they are logged, kept for /status or returned: FRR echoes the lines it rejects, and
// frr-reload.py echoes whole files, but the operator's text may hold anything (keys, internal
// names). What remains says where: `line 42 (frr.extra_config line 3): % Unknown command:
// <frr.extra_config line 3>`. Passwords are redacted as everywhere (redact).
type extraScrubber struct {
	first, count int // the extra config's lines in the rendered file: first (1-based) and how many
	lines        []extraLine
}

type extraLine struct {
	re *regexp.Regexp
	no int // 1-based, within the extra config
}

// structural are FRR words that carry nothing of the operator's: not worth replacing, and
// too common in messages ("exit" in "exited") to replace safely.
var structural = []string{"!", "exit", "end", "quit", "exit-address-family", "exit-vrf", "exit-vni"}

// newExtraScrubber returns the scrubber for rendered, whose end is extra (as Render appends
// it); nil when there is no extra config.
func newExtraScrubber(rendered, extra string) *extraScrubber {
	if strings.TrimSpace(extra) == "" {
		return nil
	}
	if !strings.HasSuffix(extra, "\n") {
		extra += "\n"
	}
	s := &extraScrubber{first: 1, count: strings.Count(extra, "\n")}
	ours := rendered
	if i := strings.LastIndex(rendered, extra); i >= 0 {
		s.first = strings.Count(rendered[:i], "\n") + 1
		ours = rendered[:i]
	}
	own := map[string]bool{}
	for _, l := range strings.Split(ours, "\n") {
		own[strings.Join(strings.Fields(l), " ")] = true
	}
	type line struct {
		fields []string
		no     int
	}
	var todo []line
	for i, l := range strings.Split(strings.TrimSuffix(extra, "\n"), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || (len(f) == 1 && slices.Contains(structural, f[0])) || own[strings.Join(f, " ")] {
			continue
		}
		todo = append(todo, line{f, i + 1})
	}
	// Longest first: a line that is part of a longer one must not break the longer one's match.
	slices.SortStableFunc(todo, func(a, b line) int { return len(strings.Join(b.fields, " ")) - len(strings.Join(a.fields, " ")) })
	for _, l := range todo {
		words := make([]string, len(l.fields))
		for i, w := range l.fields {
			words[i] = regexp.QuoteMeta(w)
		}
		// Whole words only, with any blanks between them; FRR may change the case of nothing
		// it echoes, but the operator may have typed any.
		re := regexp.MustCompile(`(?im)(^|[^\w.:/-])` + strings.Join(words, `[ \t]+`) + `($|[^\w.:/-])`)
		s.lines = append(s.lines, extraLine{re: re, no: l.no})
	}
	return s
}

// lineRef is how FRR's parser names a line of the file it was given.
var lineRef = regexp.MustCompile(`\bline (\d+)\b`)

// scrub returns text with passwords redacted and the extra config's lines replaced by
// their line numbers in it.
func (s *extraScrubber) scrub(text string) string {
	text = redact(text)
	if s == nil {
		return text
	}
	text = lineRef.ReplaceAllStringFunc(text, func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if n >= s.first && n < s.first+s.count {
			return fmt.Sprintf("%s (frr.extra_config line %d)", m, n-s.first+1)
		}
		return m
	})
	for _, l := range s.lines {
		// Twice: adjacent matches share the character between them.
		for range 2 {
			text = l.re.ReplaceAllString(text, fmt.Sprintf("${1}<frr.extra_config line %d>${2}", l.no))
		}
	}
	return text
}

// scrubbedError prints its error scrubbed but keeps the chain (errors.Is sees a deadline).
type scrubbedError struct {
	err error
	s   *extraScrubber
}

func (e scrubbedError) Error() string { return e.s.scrub(e.err.Error()) }
func (e scrubbedError) Unwrap() error { return e.err }

func scrubErr(err error, s *extraScrubber) error {
	if err == nil {
		return nil
	}
	var already scrubbedError
	if errors.As(err, &already) && already.err == err {
		return err
	}
	return scrubbedError{err, s}
}

// scrubHandler scrubs every message and string attribute with the current scrubber before
// the record reaches the agent's log: the FRR applier logs what frr-reload.py and vtysh say.
type scrubHandler struct {
	h   slog.Handler
	cur *atomic.Pointer[extraScrubber]
}

func (h scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	s := h.cur.Load()
	out := slog.NewRecord(r.Time, r.Level, s.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a, s))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h scrubHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	s := h.cur.Load()
	for i, a := range attrs {
		attrs[i] = scrubAttr(a, s)
	}
	return scrubHandler{h.h.WithAttrs(attrs), h.cur}
}

func (h scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{h.h.WithGroup(name), h.cur}
}

func scrubAttr(a slog.Attr, s *extraScrubber) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, s.scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = scrubAttr(ga, s)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, s.scrub(x.Error()))
		case []string:
			out := make([]string, len(x))
			for i, l := range x {
				out[i] = s.scrub(l)
			}
			return slog.Any(a.Key, out)
		case fmt.Stringer:
			return slog.String(a.Key, s.scrub(x.String()))
		}
		return slog.String(a.Key, s.scrub(fmt.Sprint(v.Any())))
	}
	return a
}
