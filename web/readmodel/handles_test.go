package readmodel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/derive/derivetest"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/web/readmodel"
)

// TestStatsNameAccountsByHandle: X gives a reply only the id of the account it answers;
// "most replied to" and "most central" still name accounts by handle, taken from the
// mention the reply carries, never "@166598394" or "x:166598394".
func TestStatsNameAccountsByHandle(t *testing.T) {
	env := chdbtest.Start(t)
	ctx := context.Background()
	cfg := testConfig(t, "handles")
	cm, _ := cfg.Lookup("handles")
	start := firstNight
	at := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }
	bob := post.Account{ID: "x:166598394", Handle: "bob_rn"}
	var posts []*post.Post
	for i, who := range []post.Account{{ID: "x:1", Handle: "alice"}, {ID: "x:2", Handle: "carol_md"}} {
		posts = append(posts, &post.Post{
			ID: "x:" + string(rune('a'+i)), Source: post.SourceX, Community: cm.ID, Kind: post.KindReply, Author: who,
			CreatedAt: at(i + 1), Text: "@bob_rn A1 agreed #handles", Hashtags: []string{"handles"},
			ReplyToID: "x:999", ReplyToAuthorID: bob.ID, Mentions: []post.Account{bob},
		})
	}
	for _, p := range posts {
		p.Normalize()
	}
	derivetest.Store(t, env.Conn, cfg, posts)
	an := readmodel.New(env.Conn)
	sess, ok, err := an.Session(ctx, sessions.ScheduledID(cm.ID, start))
	if err != nil || !ok {
		t.Fatalf("session: %v %v", ok, err)
	}
	st, err := an.SessionStats(ctx, sess, []string{"handles"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.MostRepliedTo) != 1 || st.MostRepliedTo[0].Handle != "bob_rn" || st.MostRepliedTo[0].Count != 2 {
		t.Errorf("most replied to: %+v, want bob_rn twice", st.MostRepliedTo)
	}
	handles := map[string]bool{}
	for _, nm := range st.Network.PerNode {
		if nm.Handle == "" || strings.Contains(nm.Handle, ":") || strings.Trim(nm.Handle, "0123456789") == "" {
			t.Errorf("central account %s named %q", nm.ID, nm.Handle)
		}
		handles[nm.Handle] = true
	}
	for _, h := range []string{"alice", "carol_md", "bob_rn"} {
		if !handles[h] {
			t.Errorf("most central lacks %s: %+v", h, st.Network.PerNode)
		}
	}
}
