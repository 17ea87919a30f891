package processor

import (
	"context"

	"github.com/nats-io/nats.go"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/derive"
	"github.com/chatnight/chatnight/pipeline/live"
)

// announce publishes the committed posts of a batch, one message per community, for
// the web tier. It is best effort: viewers that miss it read ClickHouse on reconnect.
func (p *Processor) announce(ctx context.Context, res *derive.Result) {
	type key struct{ community, id string }
	placed := make(map[key]*derive.Live, len(res.Live))
	for i := range res.Live {
		l := &res.Live[i]
		placed[key{l.Community, l.PostID}] = l
	}
	byCommunity := map[string][]live.Event{}
	for i := range res.Batch.Posts {
		r := &res.Batch.Posts[i]
		ev := live.Event{Type: live.TypePost, Community: r.Community}
		var marks []live.Mark
		if l := placed[key{r.Community, r.ID}]; l != nil {
			for _, m := range l.Marks {
				marks = append(marks, live.Mark{Kind: string(m.Kind), Number: int(m.Number)})
			}
			if l.Rethreaded {
				ev.Type = live.TypeUpdate
			}
		}
		ev.Post = r.Live(marks)
		byCommunity[r.Community] = append(byCommunity[r.Community], ev)
	}
	for community, events := range byCommunity {
		body, err := live.Encode(events)
		if err != nil {
			p.log.Error("encode live events", "err", err)
			continue
		}
		msg := nats.NewMsg(bus.LiveSubject(community))
		msg.Data = body
		if err := p.pub.PublishMsg(ctx, msg); err != nil {
			p.log.Warn("live events not published", "community", community, "err", err)
		}
	}
	if err := p.pub.Flush(ctx); err != nil {
		p.log.Warn("live events not published", "err", err)
	}
}
