// Command gen writes the recorded chat night of the golden test, deterministically:
//
//	go run ./pipeline/derive/testdata/gen > pipeline/derive/testdata/chatnight.jsonl
//	go test ./pipeline/derive -run Golden -update
package main

import (
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/post"
)

type acct struct {
	net, id, handle, name string
}

type gp struct {
	p      *post.Post
	parent *gp
	early  bool // delivered before its parent
	noRTA  bool // source left reply_to_author_id empty
}

var (
	rng  = rand.New(rand.NewSource(20261124))
	all  []*gp
	byID = map[string]*gp{}
	seq  = 0
	utc  = time.UTC
)

func xAcct(n int, handle, name string) acct {
	return acct{"x", fmt.Sprintf("x:%d", 100000+n), handle, name}
}
func mAcct(user, inst, name string) acct {
	return acct{"mastodon", "mastodon:" + user + "@" + inst, user + "@" + inst, name}
}
func bAcct(did, handle, name string) acct {
	return acct{"bluesky", "bluesky:did:plc:" + did, handle, name}
}

func newID(a acct) string {
	seq++
	switch a.net {
	case "x":
		return fmt.Sprintf("x:18%017d", 4000000+seq*7919)
	case "mastodon":
		user, inst, _ := strings.Cut(a.handle, "@")
		return fmt.Sprintf("mastodon:https://%s/users/%s/statuses/1135%08d", inst, user, seq*31)
	default:
		return fmt.Sprintf("bluesky:at://%s/app.bsky.feed.post/3lb%07d", strings.TrimPrefix(a.id, "bluesky:"), seq*13)
	}
}

func source(a acct) post.Source {
	switch a.net {
	case "x":
		return post.SourceX
	case "mastodon":
		return post.SourceMastodon
	}
	return post.SourceBluesky
}

func add(comm string, a acct, t time.Time, text string, parent *gp, mentions ...acct) *gp {
	p := &post.Post{
		ID: newID(a), Source: source(a), Community: comm,
		Author:    post.Account{ID: a.id, Handle: a.handle, Name: a.name, Followers: uint64(100 + rng.Intn(5000))},
		CreatedAt: t.UTC(), Text: text, Lang: "en", Hashtags: []string{comm},
	}
	for _, m := range mentions {
		p.Mentions = append(p.Mentions, post.Account{ID: m.id, Handle: m.handle})
	}
	g := &gp{p: p, parent: parent}
	if parent != nil {
		p.ReplyToID = parent.p.ID
		p.ReplyToAuthorID = parent.p.Author.ID
		if a.net != "mastodon" {
			root := parent
			for root.parent != nil {
				root = root.parent
			}
			p.RootID = root.p.ID
		}
		// networks put the parent's author first among the mentions
		if parent.p.Author.ID != a.id {
			p.Mentions = append([]post.Account{{ID: parent.p.Author.ID, Handle: parent.p.Author.Handle}}, p.Mentions...)
		}
	}
	p.Text = text
	if !strings.Contains(strings.ToLower(text), "#"+comm) {
		p.Text = text + " #" + strings.ToUpper(comm)
	}
	p.Normalize()
	all = append(all, g)
	byID[p.ID] = g
	return g
}

func quote(comm string, a acct, t time.Time, text string, of *gp) *gp {
	g := add(comm, a, t, text, nil)
	g.p.QuoteOfID, g.p.QuoteOfAuthorID, g.p.Kind = of.p.ID, of.p.Author.ID, post.KindQuote
	return g
}

func repost(comm string, a acct, t time.Time, of *gp) *gp {
	g := add(comm, a, t, "RT @"+of.p.Author.Handle+": "+of.p.Text, nil)
	g.p.RepostOfID, g.p.RepostOfAuthorID, g.p.Kind = of.p.ID, of.p.Author.ID, post.KindRepost
	g.p.Mentions = []post.Account{{ID: of.p.Author.ID, Handle: of.p.Author.Handle}}
	return g
}

func pick[T any](xs []T) T { return xs[rng.Intn(len(xs))] }

func main() {
	// --- #HCLDR, Tuesday 2026-11-24 20:30 America/New_York = 2026-11-25T01:30Z
	hcldr := xAcct(1, "hcldr", "#HCLDR")
	colin := xAcct(2, "colin_hung", "Colin Hung")
	joe := xAcct(3, "joewilliams", "Joe Williams")
	mhost := mAcct("hcldr", "mastodon.social", "HCLDR")
	bhost := bAcct("hcldrhost", "hcldr.bsky.social", "HCLDR")
	var xs []acct
	names := []string{"nurse_ana", "drkhan", "pt_advocate", "healthgeek", "cmio_sam", "ehr_ellen", "patientmike",
		"rn_rosa", "hospitalceo", "digitaldoc", "carecoord", "pharm_lee", "hitpolicy", "epi_jen", "medstudent_raj",
		"caregiver_kim", "qualitydan", "telehealth_tia", "ux4health", "chiefnurse"}
	for i, n := range names {
		xs = append(xs, xAcct(10+i, n, title(n)))
	}
	ms := []acct{mAcct("alice", "mastodon.social", "Alice"), mAcct("bob", "med-mastodon.com", "Bob RN"),
		mAcct("carla", "mastodon.social", "Carla"), mAcct("dev", "hachyderm.io", "Dev")}
	bs := []acct{bAcct("aaa111", "sara.bsky.social", "Sara"), bAcct("bbb222", "tomhealth.bsky.social", "Tom"),
		bAcct("ccc333", "nina.bsky.social", "Nina")}
	start := time.Date(2026, 11, 25, 1, 30, 0, 0, utc)
	at := func(min, sec int) time.Time {
		return start.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}

	// outside: the afternoon before, and 25 minutes before the start (grace is 15)
	add("hcldr", colin, at(-360, 0), "Reminder: #HCLDR tonight at 8:30pm ET, we talk about nurse burnout", nil)
	add("hcldr", xs[3], at(-25, 12), "Grabbing tea before #hcldr", nil)
	// inside the grace window before the start
	add("hcldr", xs[0], at(-12, 3), "Excited for tonight's #HCLDR chat!", nil)
	add("hcldr", ms[0], at(-8, 0), "Joining #hcldr from the fediverse tonight", nil)
	welcome := add("hcldr", hcldr, at(0, 5), "Welcome to #HCLDR! T1: Nurse burnout and what leaders can do. Introduce yourselves!", nil)
	for i := 0; i < 8; i++ {
		a := xs[i]
		g := add("hcldr", a, at(1, 10+i*17), fmt.Sprintf("Hi all, %s here, glad to be back", a.name), welcome)
		if i%3 == 0 {
			add("hcldr", joe, at(2, 30+i*11), "Welcome @"+a.handle+"!", g, a)
		}
	}
	add("hcldr", bs[0], at(2, 0), "Hello from Bluesky! #hcldr", nil)
	mwelcome := add("hcldr", mhost, at(0, 30), "Welcome to #HCLDR on Mastodon, questions will be cross-posted here", nil)
	add("hcldr", ms[1], at(3, 0), "Evening all, Bob here", mwelcome)

	qs := []struct {
		host acct
		text string
	}{
		{colin, "Q1: What are the early signs of burnout in your team?"},
		{joe, "Q2. How do leaders make it safe to talk about burnout?"},
		{colin, "Q3/ Which scheduling practices help most?"},
		{hcldr, "Question 4: What role should technology play?"},
		{joe, "Q5) One thing you will do differently tomorrow?"},
	}
	spell := []string{"A%d: ", "A%d ", "A%d. ", "A %d ", "a%d: ", "A%d) ", "A%d/ ", "Ａ%s：", "A%d - "}
	bodies := []string{"exhaustion that shows up as cynicism", "people stop speaking up in huddles",
		"sick days creep up before anyone says a word", "leaders go first and share their own story",
		"self-scheduling and no mandatory overtime", "tech that removes clicks, not adds them",
		"ask my team what to stop doing", "psychological safety is everything", "rounding with purpose",
		"protected breaks actually protected", "listen more than talk", "ambient documentation could help"}
	fw := func(n int) string { return string(rune(0xFF10 + n)) }
	var qposts []*gp
	for qi, q := range qs {
		n := qi + 1
		base := 5 + qi*10
		qp := add("hcldr", q.host, at(base, 0), q.text, nil)
		qposts = append(qposts, qp)
		// cross-posts of the question on Mastodon and Bluesky, a little later
		mq := add("hcldr", mhost, at(base, 40), q.text, nil)
		var bq *gp
		if qi%2 == 1 {
			bq = add("hcldr", bhost, at(base, 50), q.text, nil)
		}
		// a repost of the question is not a question
		repost("hcldr", pick(xs), at(base, 20), qp)
		var answers []*gp
		for k := 0; k < 9; k++ {
			a := xs[(qi*5+k)%len(xs)]
			sp := spell[(qi+k)%len(spell)]
			var label string
			if strings.Contains(sp, "%s") {
				label = fmt.Sprintf(sp, fw(n))
			} else {
				label = fmt.Sprintf(sp, n)
			}
			text := label + pick(bodies)
			t := at(base+1+k/2, (k*23)%60)
			var g *gp
			switch k % 4 {
			case 0: // standalone
				g = add("hcldr", a, t, text, nil)
			case 1: // reply to the question, with mention of another host
				g = add("hcldr", a, t, text, qp, joe)
			case 2: // reply to the question without a number: implied answer
				g = add("hcldr", a, t, "Great question. "+pick(bodies), qp)
			case 3: // leading mention
				g = add("hcldr", a, t, "@"+q.host.handle+" "+text, nil, q.host)
			}
			answers = append(answers, g)
		}
		// answers on Mastodon, replying to the cross-post; one with its author left out
		for k := 0; k < 3; k++ {
			a := ms[(qi+k)%len(ms)]
			text := fmt.Sprintf("A%d: %s", n, pick(bodies))
			if k == 2 {
				text = pick(bodies) // implied
			}
			g := add("hcldr", a, at(base+2+k, 5), text, mq)
			if k == 1 {
				g.noRTA = true
			}
			answers = append(answers, g)
		}
		if bq != nil {
			for k := 0; k < 2; k++ {
				a := bs[(qi+k)%len(bs)]
				g := add("hcldr", a, at(base+3+k, 15), fmt.Sprintf("A%d %s", n, pick(bodies)), bq)
				answers = append(answers, g)
			}
		}
		// a quote of the question that answers it
		quote("hcldr", xs[(qi*3+7)%len(xs)], at(base+4, 44), fmt.Sprintf("A%d: %s", n, pick(bodies)), qp)
		// conversation under answers: depth 2 and 3, with the occasional early arrival
		for k := 0; k < 4; k++ {
			parent := answers[(k*3+qi)%len(answers)]
			if parent.p.Author.ID[:2] != "x:" && parent.p.Source != post.SourceX {
				// reply on the parent's network
				var a acct
				if parent.p.Source == post.SourceMastodon {
					a = ms[(k+qi+1)%len(ms)]
				} else {
					a = bs[(k+qi+1)%len(bs)]
				}
				if a.id == parent.p.Author.ID {
					a = ms[(k+qi+2)%len(ms)]
					if parent.p.Source != post.SourceMastodon {
						a = bs[(k+qi+2)%len(bs)]
					}
				}
				add("hcldr", a, parent.p.CreatedAt.Add(70*time.Second), "So true, "+pick(bodies), parent)
				continue
			}
			a := xs[(k*7+qi*3+1)%len(xs)]
			if a.id == parent.p.Author.ID {
				a = xs[(k*7+qi*3+2)%len(xs)]
			}
			r := add("hcldr", a, parent.p.CreatedAt.Add(90*time.Second), "Agree! "+pick(bodies), parent)
			if k%2 == 0 {
				add("hcldr", acctOf(parent), r.p.CreatedAt.Add(45*time.Second), "Thanks @"+a.handle, r)
				if k == 0 {
					r.early = true // r arrives after its own reply, which comes before its parent
				}
			}
		}
	}
	// multi-answer posts and odd spellings, late in the chat
	add("hcldr", xs[4], at(47, 0), "Catching up: A1 & A2 both come down to trust", nil)
	add("hcldr", xs[9], at(48, 10), "A2/A3 - leaders who schedule fairly are leaders people talk to", nil)
	add("hcldr", ms[2], at(49, 0), "A1, A2: listening. Always listening.", nil)
	add("hcldr", bs[1], at(50, 30), "A4 & A5: tech should give time back", nil)
	add("hcldr", xs[12], at(51, 0), "A3&A4 self-scheduling apps are tech that helps", nil)
	// not marks
	add("hcldr", xs[5], at(26, 0), "My HbA1c is fine but #A1C talk reminds me: burnout affects our own health too", nil)
	add("hcldr", xs[8], at(33, 0), "Our Q1 2024 engagement survey showed the same", nil)
	add("hcldr", colin, at(34, 0), "Our Q2 2025 plan includes protected breaks, more on that later", nil)
	add("hcldr", xs[15], at(36, 0), "see https://example.org/Q3/A1 for the study", nil)
	add("hcldr", xs[16], at(41, 30), "Q4 is a great one", nil) // not a host: not a question
	// wrap-up, in the grace window after the end (21:30 + 30 min)
	thanks := add("hcldr", hcldr, at(58, 0), "Thanks everyone for a great #HCLDR! Transcript tomorrow.", nil)
	for i := 0; i < 6; i++ {
		add("hcldr", xs[(i*3)%len(xs)], at(59+i*4, 0), "Thank you! Great chat", thanks)
	}
	add("hcldr", joe, at(75, 0), "Still thinking about Q3 answers. Great night.", nil)
	add("hcldr", xs[2], at(95, 0), "Late to the party, read the whole #HCLDR thread", nil) // after the grace window

	// --- #HITsm, Friday 2026-11-27 12:00 America/New_York = 17:00Z
	hitsm := xAcct(4, "hitsm", "#HITsm")
	hit := xAcct(5, "healthitchat", "HealthIT Chat")
	hs := time.Date(2026, 11, 27, 17, 0, 0, 0, utc)
	hat := func(min, sec int) time.Time {
		return hs.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	hw := add("hitsm", hitsm, hat(-5, 0), "#HITsm starts in 5 minutes: interoperability edition", nil)
	add("hitsm", xs[1], hat(-3, 0), "Ready!", hw)
	hq := []string{"T1 Interoperability in 2026. Q1: Where does data still get stuck?", "Q2: Is TEFCA working yet?", "Q3: What would you fix first?"}
	for qi, text := range hq {
		host := hitsm
		if qi == 1 {
			host = hit
		}
		q := add("hitsm", host, hat(qi*15+1, 0), text, nil)
		for k := 0; k < 7; k++ {
			a := xs[(qi*4+k*3)%len(xs)]
			t := hat(qi*15+2+k, k*7)
			switch k % 3 {
			case 0:
				add("hitsm", a, t, fmt.Sprintf("A%d: %s", qi+1, pick(bodies)), nil)
			case 1:
				g := add("hitsm", a, t, fmt.Sprintf("A%d %s", qi+1, pick(bodies)), q)
				add("hitsm", xs[(qi+k+11)%len(xs)], t.Add(2*time.Minute), "Exactly @"+a.handle, g)
			case 2:
				add("hitsm", a, t, "Honestly? "+pick(bodies), q)
			}
		}
		repost("hitsm", xs[(qi+6)%len(xs)], hat(qi*15+3, 30), q)
	}
	add("hitsm", xs[7], hat(40, 0), "A1 & A3 are really the same problem", nil)
	add("hitsm", hitsm, hat(59, 0), "Thanks for joining #HITsm", nil)
	add("hitsm", xs[3], hat(200, 0), "Missed #HITsm today, reading now", nil) // outside

	// --- #healthequity: no schedule, two bursts on 2026-11-26 (gap 30m)
	he := func(h, m, s int) time.Time { return time.Date(2026, 11, 26, h, m, s, 0, utc) }
	starter := add("healthequity", xs[13], he(13, 52, 0), "Impromptu #healthequity chat? Q1: what does equity mean in your clinic?", nil)
	for k := 0; k < 14; k++ {
		a := xs[(k*5+2)%len(xs)]
		t := he(13, 55, 0).Add(time.Duration(k*4) * time.Minute)
		switch k % 3 {
		case 0:
			add("healthequity", a, t, fmt.Sprintf("A1: %s", pick(bodies)), nil)
		case 1:
			add("healthequity", a, t, pick(bodies), starter, xs[13])
		case 2:
			add("healthequity", a, t, fmt.Sprintf("Q%d: %s?", 2+k/6, "how do we measure it"), nil)
		}
	}
	add("healthequity", xs[19], he(14, 52, 0), "A2 language access, every time", nil)
	// silence 14:52 -> 18:10
	s2 := add("healthequity", ms[3], he(18, 10, 0), "Anyone around for #healthequity? Q1: rural access", nil)
	for k := 0; k < 8; k++ {
		a := ms[k%len(ms)]
		if a.id == ms[3].id {
			a = ms[0]
		}
		add("healthequity", a, he(18, 12, 0).Add(time.Duration(k*3)*time.Minute), fmt.Sprintf("A1 %s", pick(bodies)), s2)
	}

	// arrival order: by time, then early children moved ahead of their parents
	sort.SliceStable(all, func(i, j int) bool { return all[i].p.CreatedAt.Before(all[j].p.CreatedAt) })
	var order []*gp
	var held []*gp
	for _, g := range all {
		if g.early {
			held = append(held, g)
			continue
		}
		order = append(order, g)
		// release held parents two posts after their first child
		for i := 0; i < len(held); i++ {
			h := held[i]
			if childSeen(order, h) >= 0 && len(order)-childSeen(order, h) >= 2 {
				order = append(order, h)
				held = append(held[:i], held[i+1:]...)
				i--
			}
		}
	}
	order = append(order, held...)
	// one reply far ahead of its parent: the wrap-up thanks arrive before the thank-you post
	var out []*post.Post
	for _, g := range order {
		if g.noRTA {
			g.p.ReplyToAuthorID = ""
		}
		out = append(out, g.p)
	}
	for i, p := range out {
		if p.ID == thanks.p.ID {
			tp := out[i]
			copy(out[i:], out[i+1:])
			out[len(out)-1] = tp
			break
		}
	}
	data, err := post.Encode(nil, out...)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(data)
	fmt.Fprintln(os.Stderr, len(out), "posts")
}

func childSeen(order []*gp, parent *gp) int {
	for i, g := range order {
		if g.parent == parent {
			return i
		}
	}
	return -1
}

func acctOf(g *gp) acct {
	a := g.p.Author
	net, _, _ := strings.Cut(a.ID, ":")
	return acct{net, a.ID, a.Handle, a.Name}
}

func title(handle string) string {
	words := strings.Fields(strings.ReplaceAll(handle, "_", " "))
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}
