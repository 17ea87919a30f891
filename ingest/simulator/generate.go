// Package simulator makes synthetic but realistic chat nights: hosts post Q1..Qn on a
// cadence, regulars and newcomers answer A1..An, reply, mention, repost and quote. It
// publishes exactly like a real ingestor, so the demo and the tests exercise the real
// pipeline. The same seed gives the same posts.
package simulator

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

// Night describes one generated chat night.
type Night struct {
	Community *community.Community
	Seed      uint64
	Posts     int           // how many posts in all
	Start     time.Time     // when the first post is made
	Duration  time.Duration // how long the chat lasts (default 60 minutes)
	// FirstQuestion numbers the night's first question (default 1). A night that
	// continues one cut short (the demo restarted within the session gap) goes on
	// from the next number, so its Q1 does not repeat inside the same session.
	FirstQuestion int
}

// Generate returns the night's posts in time order.
func Generate(n Night) []*post.Post {
	if n.Duration <= 0 {
		n.Duration = time.Hour
	}
	if n.Posts <= 0 {
		return nil
	}
	g := &generator{
		night: n,
		rng:   rand.New(rand.NewPCG(n.Seed, 0x6368617467)), // "chatg"
		tag:   "#" + mainTag(n.Community),
	}
	g.cast()
	return g.posts()
}

func mainTag(cm *community.Community) string {
	if len(cm.Hashtags) == 0 {
		return cm.ID
	}
	return strings.TrimLeft(cm.Hashtags[0], "#＃")
}

type person struct {
	handle    string
	name      string
	followers uint64
	weight    int // how talkative
}

type generator struct {
	night Night
	rng   *rand.Rand
	tag   string

	hosts     []person
	crowd     []person // regulars and newcomers
	questions int
}

// cast picks tonight's hosts, regulars and newcomers.
func (g *generator) cast() {
	hostHandles := g.night.Community.Hosts["sim"]
	if len(hostHandles) == 0 {
		hostHandles = []string{g.night.Community.ID + "_host"}
	}
	for _, h := range hostHandles {
		g.hosts = append(g.hosts, person{handle: h, name: displayName(h), followers: 5000 + g.rng.Uint64N(20000), weight: 3})
	}
	// Regulars come most weeks; which of them come tonight depends on the seed.
	for i, h := range regulars {
		if g.rng.IntN(100) < 70 {
			g.crowd = append(g.crowd, person{handle: h, name: displayName(h), followers: 200 + uint64(i)*137%9000, weight: 2 + g.rng.IntN(4)})
		}
	}
	newcomers := 2 + g.rng.IntN(6)
	for i := 0; i < newcomers; i++ {
		h := fmt.Sprintf("%s_%s%d", firstNames[g.rng.IntN(len(firstNames))], roles[g.rng.IntN(len(roles))], g.rng.IntN(1000))
		g.crowd = append(g.crowd, person{handle: h, name: displayName(h), followers: g.rng.Uint64N(800), weight: 1})
	}
	g.questions = max(1, min(8, g.night.Posts/25))
}

func displayName(handle string) string {
	parts := strings.FieldsFunc(handle, func(r rune) bool { return r == '_' || r == '.' })
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, " ")
}

func (g *generator) pick(people []person) person {
	total := 0
	for _, p := range people {
		total += p.weight
	}
	r := g.rng.IntN(total)
	for _, p := range people {
		if r < p.weight {
			return p
		}
		r -= p.weight
	}
	return people[len(people)-1]
}

// posts lays out the night: a welcome and topic, questions on a cadence, and the crowd
// answering and talking in between.
func (g *generator) posts() []*post.Post {
	n := g.night
	topic := topics[g.rng.IntN(len(topics))]
	type slot struct {
		at   time.Duration
		kind string // welcome, question, crowd
		q    int
	}
	slots := []slot{{at: 0, kind: "welcome"}}
	cadence := n.Duration / time.Duration(g.questions+1)
	for q := 1; q <= g.questions && len(slots) < n.Posts; q++ {
		slots = append(slots, slot{at: time.Duration(q-1)*cadence + cadence/3, kind: "question", q: q})
	}
	for len(slots) < n.Posts {
		slots = append(slots, slot{at: time.Duration(g.rng.Int64N(int64(n.Duration))), kind: "crowd"})
	}
	sort.SliceStable(slots, func(i, j int) bool { return slots[i].at < slots[j].at })

	out := make([]*post.Post, 0, len(slots))
	currentQ := 0
	first := max(1, n.FirstQuestion)
	if first+g.questions-1 > 99 { // marks go up to Q99
		first = 1
	}
	for i, s := range slots {
		p := &post.Post{
			ID:        fmt.Sprintf("sim:%s-%d-%d", n.Community.ID, n.Seed, i+1),
			Source:    post.SourceSim,
			Community: n.Community.ID,
			CreatedAt: n.Start.Add(s.at).UTC().Truncate(time.Millisecond),
			Lang:      "en",
			Hashtags:  []string{post.NormalizeTag(g.tag)},
		}
		switch s.kind {
		case "welcome":
			host := g.hosts[0]
			g.author(p, host)
			p.Text = fmt.Sprintf("Welcome to %s! T1: Tonight we talk about %s. Please introduce yourself and use the hashtag.", g.tag, topic.title)
			if first > 1 {
				p.Text = fmt.Sprintf("We're back on %s, still on %s: Q%d is next.", g.tag, topic.title, first)
			}
		case "question":
			currentQ = s.q + first - 1
			host := g.hosts[(s.q-1)%len(g.hosts)]
			g.author(p, host)
			p.Text = fmt.Sprintf("Q%d: %s %s", currentQ, topic.questions[(currentQ-1)%len(topic.questions)], g.tag)
		default:
			g.crowdPost(p, out, currentQ)
		}
		p.URL = "https://chatnight.invalid/sim/" + strings.TrimPrefix(p.ID, "sim:")
		p.Normalize()
		out = append(out, p)
	}
	return out
}

func (g *generator) author(p *post.Post, who person) {
	p.Author = post.Account{ID: "sim:" + who.handle, Handle: who.handle, Name: who.name, Followers: who.followers}
}

func account(who person) post.Account {
	return post.Account{ID: "sim:" + who.handle, Handle: who.handle}
}

func (g *generator) crowdPost(p *post.Post, earlier []*post.Post, currentQ int) {
	who := g.pick(g.crowd)
	g.author(p, who)
	roll := g.rng.IntN(100)
	var parent *post.Post
	if len(earlier) > 0 {
		parent = earlier[len(earlier)-1-g.rng.IntN(min(len(earlier), 12))]
	}
	switch {
	case currentQ > 0 && roll < 45:
		// Answers: mostly "A1:", sometimes two at once or an odd spelling.
		mark := fmt.Sprintf("A%d:", currentQ)
		switch r := g.rng.IntN(10); {
		case r == 0 && currentQ > 1:
			mark = fmt.Sprintf("A%d & A%d:", currentQ-1, currentQ)
		case r == 1:
			mark = fmt.Sprintf("A%d)", currentQ)
		case r == 2:
			mark = fmt.Sprintf("A %d", currentQ)
		}
		p.Text = fmt.Sprintf("%s %s %s", mark, answers[g.rng.IntN(len(answers))], g.tag)
	case parent != nil && roll < 70 && parent.Author.ID != p.Author.ID:
		p.Kind = post.KindReply
		p.ReplyToID = parent.ID
		p.ReplyToAuthorID = parent.Author.ID
		p.RootID = parent.RootID
		if p.RootID == "" {
			p.RootID = parent.ID
		}
		p.Mentions = []post.Account{{ID: parent.Author.ID, Handle: parent.Author.Handle}}
		p.Text = fmt.Sprintf("@%s %s %s", parent.Author.Handle, replies[g.rng.IntN(len(replies))], g.tag)
	case parent != nil && roll < 80 && parent.Kind != post.KindRepost && parent.Author.ID != p.Author.ID:
		p.Kind = post.KindRepost
		p.RepostOfID = parent.ID
		p.RepostOfAuthorID = parent.Author.ID
		p.Text = fmt.Sprintf("RT @%s: %s", parent.Author.Handle, parent.Text)
	case parent != nil && roll < 85:
		p.Kind = post.KindQuote
		p.QuoteOfID = parent.ID
		p.QuoteOfAuthorID = parent.Author.ID
		p.Text = fmt.Sprintf("%s %s", quotes[g.rng.IntN(len(quotes))], g.tag)
	default:
		other := g.pick(g.crowd)
		if other.handle != who.handle {
			p.Mentions = []post.Account{account(other)}
			p.Text = fmt.Sprintf("%s @%s %s", chatter[g.rng.IntN(len(chatter))], other.handle, g.tag)
		} else {
			p.Text = fmt.Sprintf("%s %s", chatter[g.rng.IntN(len(chatter))], g.tag)
		}
	}
	if g.rng.IntN(10) == 0 {
		link := links[g.rng.IntN(len(links))]
		p.URLs = []string{link}
		p.Text += " " + link
	}
}
