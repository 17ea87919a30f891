package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/api"
	"github.com/chatnight/chatnight/web/completeness"
	"github.com/chatnight/chatnight/web/export"
	"github.com/chatnight/chatnight/web/host"
	"github.com/chatnight/chatnight/web/optout"
	"github.com/chatnight/chatnight/web/readmodel"
)

// reportCmd prints the analytics of one session:
// `chatnight report --community hcldr --session latest [--format text|json|md]`, or
// with --from (and --to) the community's newcomer-welcome series over that period.
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("report", "report --community ID [--session latest|ID | --from DATE [--to DATE]] [--format text|json|md] [flags]", stdout, &o,
		flagsConfig|flagsClickHouse|flagsEmbedded)
	communityID := fs.String("community", "", "community of the session (required)")
	sessionID := fs.String("session", "latest", `session id, or "latest": the last one that started`)
	format := fs.String("format", "text", "output: text, json or md")
	top := fs.Int("top", readmodel.DefaultTop, "length of each top list")
	peopleMode := fs.String("people", "people", "people: count linked accounts as one person; accounts: one participant per account")
	fromFlag := fs.String("from", "", "instead of one session: the welcome series of the sessions from this date (2006-01-02 or RFC 3339)")
	toFlag := fs.String("to", "", "end of the --from period (default now)")
	pseudonymize := fs.Bool("pseudonymize", false, "show every account as its keyed-HMAC pseudonym (the same as ?pseudonymize=1 exports)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *communityID == "" {
		return usagef(fs, "--community is required: the community whose session to report")
	}
	if len(fs.Args()) > 0 {
		return usagef(fs, "unexpected argument %q: report takes only flags", fs.Args()[0])
	}
	if *format != "text" && *format != "json" && *format != "md" {
		return usagef(fs, "--format %q: use text, json or md", *format)
	}
	if *peopleMode != "people" && *peopleMode != "accounts" {
		return fmt.Errorf("--people %q: use people or accounts", *peopleMode)
	}
	var from, to time.Time
	if *fromFlag != "" || *toFlag != "" {
		var err error
		if from, to, err = reportPeriod(*fromFlag, *toFlag, time.Now()); err != nil {
			return err
		}
	}
	log, cm, err := o.loggerFor(stderr, *communityID)
	if err != nil {
		return err
	}
	st := newStack(log)
	defer st.close()
	if err := connectToolClickHouse(ctx, st, fs, &o); err != nil {
		return err
	}
	cfg, err := o.communities()
	if err != nil {
		return err
	}
	an := readmodel.New(st.ch)
	an.Top = *top
	an.UseConfig(cfg)
	if *peopleMode == "accounts" {
		an = an.Accounts()
	}
	hr := host.New(st.ch, an)
	list := optout.NewOptOuts(st.ch, log)
	list.Strict = cfg.StrictConsent()
	if !from.IsZero() {
		red, err := list.Load(ctx)
		if err != nil {
			return err
		}
		red = red.For(cm.ID)
		series, err := hr.SeriesOf(ctx, cm, from, to, red)
		if err != nil {
			return err
		}
		if *format == "json" {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(series)
		}
		writeWelcomeSeries(stdout, series, *format == "md")
		return nil
	}
	var (
		sess readmodel.Session
		ok   bool
	)
	if *sessionID == "latest" {
		sess, ok, err = an.LatestSession(ctx, cm.ID, time.Now())
	} else {
		sess, ok, err = an.Session(ctx, *sessionID)
		ok = ok && sess.Community == cm.ID
	}
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no session %q in community %s (list them at /api/communities/%s/sessions)", *sessionID, cm.ID, cm.ID)
	}
	red, err := list.Load(ctx)
	if err != nil {
		return err
	}
	red = red.For(cm.ID)
	if *pseudonymize {
		g, err := an.Graph(ctx, sess)
		if err != nil {
			return err
		}
		accounts := map[string]string{}
		for _, n := range g.Nodes {
			accounts[n.Handle] = n.ID
		}
		red = red.Pseudonymize(accounts)
	}
	manifest, err := reportManifest(ctx, st, cfg, cm, sess, list.Counts(), *pseudonymize)
	if err != nil {
		return err
	}
	tags := []string{}
	for _, t := range cm.Hashtags {
		tags = append(tags, post.NormalizeTag(t))
	}
	stats, err := an.SessionStats(ctx, sess, tags, red)
	if err != nil {
		return err
	}
	wel, _, err := hr.SessionWelcome(ctx, cm, sess, red)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			api.SessionStats
			Manifest *export.Manifest `json:"manifest"`
		}{api.SessionStats{SessionStats: stats, Welcome: wel}, manifest})
	case "md":
		writeReport(stdout, stats, manifest, true)
		writeWelcome(stdout, wel, true)
	default:
		writeReport(stdout, stats, manifest, false)
		writeWelcome(stdout, wel, false)
	}
	return nil
}

// reportManifest is the manifest a report is headed by: as the API's exports have.
func reportManifest(ctx context.Context, st *stack, cfg *community.Config, cm *community.Community, sess readmodel.Session,
	counts optout.Counts, pseudonymized bool) (*export.Manifest, error) {
	rep, err := completeness.Of(ctx, st.ch, completeness.Session{ID: sess.ID, Community: cm.ID, Start: sess.Start, End: sess.End,
		Cells: sess.Cells, Sources: cm.Sources})
	if err != nil {
		return nil, err
	}
	removed, purged, err := storage.DeletionCounts(ctx, st.ch)
	if err != nil {
		return nil, err
	}
	byConsent := counts.NoIndex
	if cm.Consent == community.ConsentStrict {
		byConsent += counts.NotIndexable
	}
	return api.BuildManifest(version, cm.ID, sess.ID, sess.Start, sess.End, cfg, rep, counts.OptedOut, byConsent, pseudonymized,
		removed, purged, time.Now()), nil
}

// reportPeriod parses --from and --to (default now).
func reportPeriod(fromS, toS string, now time.Time) (from, to time.Time, err error) {
	if fromS == "" {
		return from, to, fmt.Errorf("--to needs --from (a date such as 2026-01-01)")
	}
	parse := func(name, s string) (time.Time, error) {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC(), nil
		}
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return t, fmt.Errorf("--%s %q: use a date (2006-01-02) or an RFC 3339 time", name, s)
		}
		return t, nil
	}
	if from, err = parse("from", fromS); err != nil {
		return from, to, err
	}
	to = now.UTC()
	if toS != "" {
		if to, err = parse("to", toS); err != nil {
			return from, to, err
		}
	}
	if !from.Before(to) {
		return from, to, fmt.Errorf("--from %s is not before --to %s", fromS, to.Format(time.RFC3339))
	}
	return from, to, nil
}

// sections write a report's headings and tables as plain text, or as Markdown with md.
type sections struct {
	w  io.Writer
	md bool
}

func (x sections) heading(title string) {
	if x.md {
		fmt.Fprintf(x.w, "\n## %s\n\n", title)
	} else {
		fmt.Fprintf(x.w, "\n%s\n%s\n", title, strings.Repeat("-", len(title)))
	}
}

func (x sections) table(header []string, rows [][]string) {
	if len(rows) == 0 { // an empty section says so rather than print bare headers
		fmt.Fprintln(x.w, "none")
		return
	}
	if x.md {
		fmt.Fprintf(x.w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat(" --- |", len(header)))
		for _, r := range rows {
			for i := range r {
				r[i] = strings.ReplaceAll(r[i], "|", `\|`)
			}
			fmt.Fprintf(x.w, "| %s |\n", strings.Join(r, " | "))
		}
		return
	}
	tw := tabwriter.NewWriter(x.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// writeReport writes stats as plain text, or as Markdown with md.
func writeReport(w io.Writer, s *readmodel.SessionStats, m *export.Manifest, md bool) {
	x := sections{w, md}
	heading, table := x.heading, x.table
	title := fmt.Sprintf("%s session %s (%s, %s to %s UTC)", s.Session.Community, s.Session.ID, s.Session.Kind,
		s.Session.Start.Format("2006-01-02 15:04"), s.Session.End.Format("15:04"))
	if md {
		fmt.Fprintf(w, "# %s\n\n", title)
		for _, l := range m.Lines() {
			fmt.Fprintf(w, "> %s\n>\n", l)
		}
	} else {
		fmt.Fprintln(w, title)
		for _, l := range m.Lines() {
			fmt.Fprintln(w, l)
		}
	}
	heading("Summary")
	n := func(v uint64) string { return fmt.Sprint(v) }
	table([]string{"metric", "value"}, [][]string{
		{"posts", n(s.Posts)}, {"originals", n(s.Originals)}, {"replies", n(s.Replies)}, {"reposts", n(s.Reposts)},
		{"quotes", n(s.Quotes)}, {"participants", n(s.Counts.Participants)}, {"newcomers", n(s.Newcomers)},
		{"returning", n(s.Returning)}, {"potential reach", n(s.PotentialReach)}, {"impressions", n(s.Impressions)},
		{"network nodes", fmt.Sprint(s.Network.Nodes)}, {"network edges", fmt.Sprint(s.Network.Edges)},
		{"density", fmt.Sprintf("%.4f", s.Network.Density)}, {"reciprocity", fmt.Sprintf("%.3f", s.Network.Reciprocity)},
		{"communities", fmt.Sprint(s.Network.Communities)},
	})
	accounts := func(title, what string, list []readmodel.Account) {
		heading(title)
		var rows [][]string
		for i, a := range list {
			rows = append(rows, []string{fmt.Sprint(i + 1), "@" + a.Handle, n(a.Count)})
		}
		table([]string{"#", "account", what}, rows)
	}
	heading("Top participants")
	var tops [][]string
	for i, a := range s.TopParticipants {
		var segs []string
		for _, as := range a.Segments {
			segs = append(segs, as.Segment)
		}
		tops = append(tops, []string{fmt.Sprint(i + 1), "@" + a.Handle, n(a.Count), perNetwork(a.Networks), strings.Join(segs, ", ")})
	}
	table([]string{"#", "person", "posts", "networks", "segments"}, tops)
	for _, a := range s.TopParticipants {
		if len(a.Why) > 0 {
			fmt.Fprintf(w, "%s@%s is %s: linked because %s\n", bullet(md), a.Handle, strings.Join(a.Accounts, " + "), strings.Join(a.Why, "; "))
		}
	}
	for _, a := range s.TopParticipants {
		for _, as := range a.Segments {
			fmt.Fprintf(w, "%s@%s %s\n", bullet(md), a.Handle, as.Reason)
		}
	}
	heading("Segments")
	var segRows [][]string
	for _, c := range s.Segments {
		segRows = append(segRows, []string{c.Label, n(c.Participants), n(c.Posts)})
	}
	table([]string{"segment", "participants", "posts"}, segRows)
	accounts("Most mentioned", "mentions", s.MostMentioned)
	accounts("Most replied to", "replies", s.MostRepliedTo)
	heading("Questions")
	var qs [][]string
	for _, q := range s.Questions {
		text := q.Text
		if len(text) > 80 {
			text = text[:77] + "..."
		}
		qs = append(qs, []string{fmt.Sprintf("Q%d", q.Number), n(q.Answers), n(q.Answerers), strings.ReplaceAll(text, "\n", " ")})
	}
	table([]string{"question", "answers", "answerers", "text"}, qs)
	valued := func(title string, list []readmodel.Valued) {
		heading(title)
		var rows [][]string
		for _, v := range list {
			rows = append(rows, []string{v.Value, n(v.Count)})
		}
		table([]string{"value", "count"}, rows)
	}
	valued("Co-occurring hashtags", s.Hashtags)
	valued("Top domains", s.Domains)
	valued("Top links", s.URLs)
	valued("Languages", s.Languages)
	valued("Sources", s.Sources)
	heading("Most central (PageRank)")
	var pr [][]string
	for _, m := range s.Network.PerNode {
		pr = append(pr, []string{"@" + cmp.Or(m.Handle, m.ID), fmt.Sprintf("%.4f", m.PageRank), fmt.Sprintf("%.4f", m.Betweenness), fmt.Sprint(m.InDegree), fmt.Sprint(m.OutDegree)})
	}
	table([]string{"account", "pagerank", "betweenness", "in", "out"}, pr)
}

// perNetwork renders posts per network ("bluesky 1, mastodon 2"); "" for one account.
func perNetwork(m map[string]uint64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func bullet(md bool) string {
	if md {
		return "- "
	}
	return "  "
}

// optional formats a figure that may be unknown.
func optional(v *float64, format string) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *v)
}

// welcomeRows are the summary rows of welcome figures.
func welcomeRows(wl host.Welcome) [][]string {
	return [][]string{
		{"newcomers", fmt.Sprint(wl.Newcomers)},
		{fmt.Sprintf("welcomed (a reply from someone else within %g min)", wl.WindowMinutes), fmt.Sprint(wl.Welcomed)},
		{"welcomed share", optional(wl.WelcomedShare, "%.2f")},
		{"median minutes to welcome", optional(wl.MedianMinutesToWelcome, "%.1f")},
		{fmt.Sprintf("welcomed who returned (next %d sessions)", wl.LaterSessions), fmt.Sprint(wl.ReturnedWelcomed)},
		{fmt.Sprintf("unwelcomed who returned (next %d sessions)", wl.LaterSessions), fmt.Sprint(wl.ReturnedUnwelcomed)},
		{"welcomed newcomers return ×", optional(wl.ReturnRatio, "%.2f")},
	}
}

// writeWelcome writes a session's newcomer welcome figures and its welcomers.
func writeWelcome(w io.Writer, wl host.Welcome, md bool) {
	x := sections{w, md}
	x.heading("Newcomer welcome")
	x.table([]string{"metric", "value"}, welcomeRows(wl))
	x.welcomers(wl.Welcomers)
}

func (x sections) welcomers(list []host.Welcomer) {
	x.heading("Welcomers")
	var rows [][]string
	for i, a := range list {
		rows = append(rows, []string{fmt.Sprint(i + 1), "@" + a.Handle, fmt.Sprint(a.Newcomers)})
	}
	x.table([]string{"#", "account", "newcomers welcomed"}, rows)
}

// writeWelcomeSeries writes a community's welcome figures per session and in total.
func writeWelcomeSeries(w io.Writer, s *host.Series, md bool) {
	title := fmt.Sprintf("%s newcomer welcome, %s to %s", s.Community, s.From.Format("2006-01-02"), s.To.Format("2006-01-02"))
	if md {
		fmt.Fprintf(w, "# %s\n", title)
	} else {
		fmt.Fprintln(w, title)
	}
	x := sections{w, md}
	x.heading("Per session")
	var rows [][]string
	for _, p := range s.Sessions {
		rows = append(rows, []string{p.Session.Start.Format("2006-01-02 15:04"), p.Session.ID, fmt.Sprint(p.Newcomers),
			fmt.Sprint(p.Welcomed), optional(p.WelcomedShare, "%.2f"), optional(p.MedianMinutesToWelcome, "%.1f"),
			fmt.Sprint(p.ReturnedWelcomed), fmt.Sprint(p.ReturnedUnwelcomed)})
	}
	x.table([]string{"start (UTC)", "session", "newcomers", "welcomed", "share", "median min", "returned welcomed", "returned unwelcomed"}, rows)
	x.heading("Total")
	x.table([]string{"metric", "value"}, welcomeRows(s.Total))
	x.welcomers(s.Total.Welcomers)
}
