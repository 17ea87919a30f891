// Package grafana holds chatnight's Grafana provisioning and dashboards; its test runs
// every ClickHouse panel's SQL, expanded the way grafana-clickhouse-datasource expands
// it, against a populated embedded store, and checks the Prometheus panels use metrics
// chatnight exports.
package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/chatnight/chatnight/pipeline/bursts"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/processor"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/pipeline/threads"
	"github.com/chatnight/chatnight/web/host"
	"github.com/chatnight/chatnight/web/hub"
	"github.com/chatnight/chatnight/web/readmodel"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			RefID      string `json:"refId"`
			RawSQL     string `json:"rawSql"`
			Expr       string `json:"expr"`
			QueryType  string `json:"queryType"`
			Datasource struct {
				Type string `json:"type"`
			} `json:"datasource"`
		} `json:"targets"`
		Transformations []struct {
			ID      string `json:"id"`
			Options struct {
				IndexByName map[string]int `json:"indexByName"`
			} `json:"options"`
		} `json:"transformations"`
	} `json:"panels"`
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) != 6 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Fatalf("%s: no uid, title or panels", f)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// timeRange is the dashboard time range of the test, and the interval.
type timeRange struct {
	from, to time.Time
	interval time.Duration
}

var macroArg = regexp.MustCompile(`\$__(timeFilter|timeFilter_ms|dateFilter|timeInterval|timeInterval_ms)\(([^)]*)\)`)

// expand replaces the plugin's macros (as grafana-clickhouse-datasource v4 does) and
// template variables.
func expand(sql string, tr timeRange, vars map[string]string) string {
	from, to := tr.from.Unix(), tr.to.Unix()
	sql = macroArg.ReplaceAllStringFunc(sql, func(m string) string {
		parts := macroArg.FindStringSubmatch(m)
		col := strings.TrimSpace(parts[2])
		switch parts[1] {
		case "timeFilter":
			return fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", col, from, col, to)
		case "timeFilter_ms":
			return fmt.Sprintf("%s >= fromUnixTimestamp64Milli(%d) AND %s <= fromUnixTimestamp64Milli(%d)", col, tr.from.UnixMilli(), col, tr.to.UnixMilli())
		case "dateFilter":
			return fmt.Sprintf("%s >= toDate('%s') AND %s <= toDate('%s')", col, tr.from.Format("2006-01-02"), col, tr.to.Format("2006-01-02"))
		case "timeInterval":
			return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", col, int(tr.interval.Seconds()))
		default:
			return fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", col, tr.interval.Milliseconds())
		}
	})
	r := strings.NewReplacer(
		"$__fromTime_ms", fmt.Sprintf("fromUnixTimestamp64Milli(%d)", tr.from.UnixMilli()),
		"$__toTime_ms", fmt.Sprintf("fromUnixTimestamp64Milli(%d)", tr.to.UnixMilli()),
		"$__fromTime", fmt.Sprintf("toDateTime(%d)", from),
		"$__toTime", fmt.Sprintf("toDateTime(%d)", to),
		"$__interval_ms", strconv.FormatInt(tr.interval.Milliseconds(), 10),
		"$__interval_s", strconv.Itoa(int(tr.interval.Seconds())),
	)
	sql = r.Replace(sql)
	for k, v := range vars {
		sql = strings.ReplaceAll(sql, "${"+k+"}", v)
		sql = strings.ReplaceAll(sql, "$"+k, v)
	}
	return sql
}

func testCommunities(t *testing.T) *community.Config {
	t.Helper()
	cfg, err := community.Parse("test", []byte(`
communities:
  - id: grafanatest
    name: "#grafanatest"
    hashtags: [grafanatest]
    schedule:
      - {weekday: tuesday, start: "20:30", timezone: America/New_York, duration: 60m}
    hosts:
      sim: [grafanatest_host]
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// populate writes three simulated nights of a community named after the dashboards'
// test, and returns the time range covering them.
func populate(t *testing.T, conn driver.Conn) timeRange {
	t.Helper()
	cfg := testCommunities(t)
	cm, _ := cfg.Lookup("grafanatest")
	first := time.Date(2026, 1, 7, 1, 30, 0, 0, time.UTC)
	mem := threads.NewMemory()
	d := derive.New(cfg, mem, time.Now)
	w := storage.NewWriter(conn, nil)
	ctx := context.Background()
	for i := range 3 {
		posts := simulator.Generate(simulator.Night{Community: cm, Seed: uint64(i + 1), Posts: 200, Start: first.AddDate(0, 0, 7*i)})
		for j, p := range posts {
			if j%10 == 0 {
				p.Hashtags = append(p.Hashtags, "nursing") // a co-occurring hashtag
			}
			// Bios for the segments dashboard: some authors a nurse, some in health IT.
			switch len(p.Author.Handle) % 3 {
			case 0:
				p.Author.Bio = "ICU nurse, RN"
			case 1:
				p.Author.Bio = "Health IT consultant"
			}
		}
		b, err := d.Derive(ctx, posts)
		if err == nil {
			err = mem.Write(ctx, b)
		}
		if err == nil {
			err = bursts.WriteAndPlace(ctx, w, b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Stewardship: a 2-minute reconnect window and a dead letter on record, a post of
	// the first night deleted at its source, an account with noindex.
	now := time.Now().UTC()
	if err := storage.WriteCompleteness(ctx, conn, []storage.CompletenessRow{
		{Source: "bluesky", From: first.Add(10 * time.Minute), To: first.Add(12 * time.Minute), Kind: "reconnect", Detail: "test", EventID: "g1", RecordedAt: now},
		{Source: "process", Community: "grafanatest", From: first.Add(20 * time.Minute), To: first.Add(20 * time.Minute), Kind: "dead_letter", Count: 1, EventID: "g2", RecordedAt: now},
	}); err != nil {
		t.Fatal(err)
	}
	var victim string
	if err := conn.QueryRow(ctx, "SELECT id FROM chatnight.posts FINAL WHERE community = 'grafanatest' ORDER BY created_at LIMIT 1").Scan(&victim); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.RecordDeletions(ctx, conn, []storage.DeletionRow{{PostID: victim, Source: "sim", Reason: "test", DeletedAt: now, RecordedAt: now, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteConsent(ctx, conn, []storage.ConsentRow{{AccountID: "mastodon:grafana@test.example", Handle: "grafana@test.example", NoIndex: 1, SeenAt: now, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	return timeRange{from: first.Add(-24 * time.Hour), to: time.Now().Add(time.Hour), interval: time.Minute}
}

func TestClickHousePanelsRunOnAPopulatedStore(t *testing.T) {
	env := chdbtest.Start(t)
	tr := populate(t, env.Conn)
	ctx := context.Background()
	for file, d := range loadDashboards(t) {
		t.Run(file, func(t *testing.T) {
			// Template variables take the first value their query returns.
			vars := map[string]string{}
			for _, v := range d.Templating.List {
				if v.Type == "textbox" || v.Type == "constant" {
					vars[v.Name] = v.Query // the default value
					continue
				}
				q := expand(v.Query, tr, vars)
				rows, err := env.Conn.Query(ctx, q)
				if err != nil {
					t.Fatalf("variable %s: %v\n%s", v.Name, err, q)
				}
				var values []string
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						t.Fatalf("variable %s: %v", v.Name, err)
					}
					values = append(values, s)
				}
				rows.Close()
				if len(values) == 0 {
					t.Fatalf("variable %s has no values", v.Name)
				}
				vars[v.Name] = values[0]
				if v.Name == "community" {
					vars[v.Name] = "grafanatest"
				}
			}
			for _, p := range d.Panels {
				for _, tg := range p.Targets {
					if tg.RawSQL == "" {
						if p.Datasource.Type == "grafana-clickhouse-datasource" {
							t.Errorf("panel %q: ClickHouse target without SQL", p.Title)
						}
						continue
					}
					q := expand(tg.RawSQL, tr, vars)
					if strings.Contains(q, "$") {
						t.Errorf("panel %q: unexpanded macro or variable in\n%s", p.Title, q)
						continue
					}
					checkPanel(t, env.Conn, p.Title, p.Type, q, columnsOf(p.Transformations))
				}
			}
		})
	}
}

// TestWelcomePanelsMatchTheAPI checks the Newcomer welcome dashboard computes the
// figures the API and the report compute (package web/host), on the same nights.
func TestWelcomePanelsMatchTheAPI(t *testing.T) {
	env := chdbtest.Start(t)
	tr := populate(t, env.Conn)
	ctx := context.Background()
	cm, _ := testCommunities(t).Lookup("grafanatest")
	series, err := host.New(env.Conn, readmodel.New(env.Conn)).SeriesOf(ctx, cm, tr.from, tr.to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if series.Total.Newcomers == 0 || series.Total.Welcomed == 0 || series.Total.ReturnedWelcomed+series.Total.ReturnedUnwelcomed == 0 {
		t.Fatalf("the simulated nights give nothing to compare: %+v", series.Total)
	}
	d := loadDashboards(t)["welcome.json"]
	vars := map[string]string{"community": "grafanatest", "window_minutes": fmt.Sprint(cm.WelcomeWindow.Minutes())}
	sqlOf := func(title string) string {
		for _, p := range d.Panels {
			if p.Title == title {
				return expand(p.Targets[0].RawSQL, tr, vars)
			}
		}
		t.Fatalf("no panel %q", title)
		return ""
	}
	var got struct {
		Newcomers          uint64   `ch:"newcomers"`
		Welcomed           uint64   `ch:"welcomed"`
		Share              *float64 `ch:"welcomed_share"`
		Median             *float64 `ch:"median_minutes_to_welcome"`
		ReturnedWelcomed   uint64   `ch:"returned_welcomed"`
		ReturnedUnwelcomed uint64   `ch:"returned_unwelcomed"`
		Ratio              *float64 `ch:"return_ratio"`
	}
	if err := env.Conn.QueryRow(ctx, sqlOf("Welcome summary")).ScanStruct(&got); err != nil {
		t.Fatal(err)
	}
	w := series.Total
	f := func(p *float64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%.2f", *p)
	}
	gotS := fmt.Sprintf("%d %d %s %s %d %d %s", got.Newcomers, got.Welcomed, f(got.Share), f(got.Median), got.ReturnedWelcomed, got.ReturnedUnwelcomed, f(got.Ratio))
	wantS := fmt.Sprintf("%d %d %s %s %d %d %s", w.Newcomers, w.Welcomed, f(w.WelcomedShare), f(w.MedianMinutesToWelcome), w.ReturnedWelcomed, w.ReturnedUnwelcomed, f(w.ReturnRatio))
	if gotS != wantS {
		t.Errorf("Welcome summary panel: %s\nthe API's figures:    %s", gotS, wantS)
	}
	// Per session: newcomers and welcomed.
	rows, err := env.Conn.Query(ctx, sqlOf("Newcomers and welcomed per session"))
	if err != nil {
		t.Fatal(err)
	}
	var perPanel, perAPI []string
	for rows.Next() {
		var at time.Time
		var n, wl uint64
		if err := rows.Scan(&at, &n, &wl); err != nil {
			t.Fatal(err)
		}
		perPanel = append(perPanel, fmt.Sprintf("%s %d/%d", at.UTC().Format(time.RFC3339), wl, n))
	}
	rows.Close()
	for _, p := range series.Sessions {
		if p.Newcomers > 0 {
			perAPI = append(perAPI, fmt.Sprintf("%s %d/%d", p.Session.Start.UTC().Format(time.RFC3339), p.Welcomed, p.Newcomers))
		}
	}
	if fmt.Sprint(perPanel) != fmt.Sprint(perAPI) {
		t.Errorf("per session: panel %v, API %v", perPanel, perAPI)
	}
	t.Logf("welcome over the simulated nights: %s (newcomers welcomed returned-welcomed returned-unwelcomed)", wantS)
}

func columnsOf(ts []struct {
	ID      string `json:"id"`
	Options struct {
		IndexByName map[string]int `json:"indexByName"`
	} `json:"options"`
}) []string {
	var out []string
	for _, t := range ts {
		if t.ID == "organize" {
			for c := range t.Options.IndexByName {
				out = append(out, c)
			}
		}
	}
	return out
}

// checkPanel runs q and checks it returns rows with what the panel type needs: a time
// column named "time" and a number for time series, a number for stats, and the columns
// the table's organize transformation names.
func checkPanel(t *testing.T, conn driver.Conn, title, typ, q string, want []string) {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Errorf("panel %q: %v\n%s", title, err, q)
		return
	}
	defer rows.Close()
	cols := rows.Columns()
	types := rows.ColumnTypes()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		t.Errorf("panel %q: %v", title, err)
	}
	if n == 0 {
		t.Errorf("panel %q returned no rows\n%s", title, q)
	}
	numeric := 0
	for _, ct := range types {
		if isNumeric(ct.DatabaseTypeName()) {
			numeric++
		}
	}
	switch typ {
	case "timeseries":
		if len(cols) < 2 || cols[0] != "time" || !strings.HasPrefix(types[0].DatabaseTypeName(), "DateTime") || numeric == 0 {
			t.Errorf("panel %q (time series): columns %v %v, want time first and a number", title, cols, typeNames(types))
		}
	case "stat":
		if numeric == 0 {
			t.Errorf("panel %q (stat): no numeric column in %v", title, cols)
		}
	case "table":
		if len(want) == 0 {
			t.Errorf("panel %q (table): no organize transformation naming its columns", title)
		}
		for _, c := range want {
			found := false
			for _, got := range cols {
				found = found || got == c
			}
			if !found {
				t.Errorf("panel %q: column %q missing from %v", title, c, cols)
			}
		}
	}
}

func isNumeric(t string) bool {
	t = strings.TrimPrefix(strings.TrimSuffix(t, ")"), "Nullable(")
	return strings.HasPrefix(t, "UInt") || strings.HasPrefix(t, "Int") || strings.HasPrefix(t, "Float") || strings.HasPrefix(t, "Decimal")
}

func typeNames(ts []driver.ColumnType) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.DatabaseTypeName())
	}
	return out
}

// TestPrometheusPanelsUseExportedMetrics checks every chatnight_* name in the Pipeline
// health dashboard's PromQL is a metric the processes register.
func TestPrometheusPanelsUseExportedMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, register := range []func(prometheus.Registerer) error{
		func(r prometheus.Registerer) error { _, err := processor.NewMetrics(r); return err },
		func(r prometheus.Registerer) error { _, err := storage.NewWriterMetrics(r); return err },
		func(r prometheus.Registerer) error { _, err := hub.NewMetrics(r); return err },
		func(r prometheus.Registerer) error { _, err := ingest.NewMetrics(r); return err },
	} {
		if err := register(reg); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{}
	for _, f := range families {
		known[f.GetName()] = f.GetType().String()
	}
	// Vectors without a sample yet are not gathered; register their names by hand.
	for _, n := range []string{"chatnight_ingest_posts_total", "chatnight_ingest_errors_total", "chatnight_ingest_invalid_records_total", "chatnight_ingest_deletions_total"} {
		if _, ok := known[n]; !ok {
			known[n] = "COUNTER"
		}
	}
	name := regexp.MustCompile(`chatnight_[a-z_]+`)
	used := 0
	for file, d := range loadDashboards(t) {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				for _, m := range name.FindAllString(tg.Expr, -1) {
					used++
					base := m
					for _, suf := range []string{"_bucket", "_sum", "_count"} {
						if b, ok := strings.CutSuffix(m, suf); ok && known[b] == "HISTOGRAM" {
							base = b
						}
					}
					if _, ok := known[base]; !ok {
						t.Errorf("%s panel %q uses %s, which no chatnight process exports", file, p.Title, m)
					}
				}
			}
		}
	}
	if used < 10 {
		t.Errorf("only %d metric references in the dashboards", used)
	}
}
