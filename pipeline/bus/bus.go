// Package bus names the JetStream streams, subjects and buckets chatnight uses and
// connects to them. Data flows one way: ingestors publish to posts.<community>.<source>,
// processors consume the POSTS stream and publish compact events to live.<community>,
// and the web tier reads the LIVE stream.
package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/post"
)

const (
	PostsStream      = "POSTS"
	LiveStream       = "LIVE"
	DeadLetterStream = "DEADLETTER"
	// StewardStream carries completeness events and deletions (package steward).
	StewardStream = "STEWARD"
	// StewardConsumer is the durable consumer processors share on StewardStream.
	StewardConsumer = "steward"

	// ProcessorConsumer is the durable consumer every processor process shares.
	ProcessorConsumer = "processor"

	// CursorBucket is the KV bucket where ingestors keep their resume points.
	CursorBucket = "cursors"
	// BlueskyBucket is where the Bluesky sources remember handles and kept posts
	// across restarts.
	BlueskyBucket = "bluesky"

	// HeaderBatchPosts tells how many posts a bulk message carries.
	HeaderBatchPosts = "Chatnight-Posts"
	// HeaderEncoding names the encoding of a posts message body (post.EncodingCompact);
	// without it the body is JSON Lines, the format for external publishers.
	HeaderEncoding = "Chatnight-Encoding"
	// HeaderError carries the reason a message was dead-lettered.
	HeaderError = "Chatnight-Error"
	// HeaderOrigin says where a dead letter came from (source and offset).
	HeaderOrigin = "Chatnight-Origin"
)

// DefaultURL is where `simulate` and `import` publish when no --nats-url is given:
// the embedded server of a running `chatnight run`.
const DefaultURL = "nats://127.0.0.1:4222"

// PostsIn is how many posts a message with header h carries: HeaderBatchPosts of a bulk
// message, else 1.
func PostsIn(h nats.Header) int {
	if n, err := strconv.Atoi(h.Get(HeaderBatchPosts)); err == nil && n > 0 {
		return n
	}
	return 1
}

// PostsSubject is where posts of a community arrive from a source.
func PostsSubject(community string, src post.Source) string {
	return "posts." + community + "." + string(src)
}

// LiveSubject is where processors announce committed posts of a community.
func LiveSubject(community string) string { return "live." + community }

// DeadLetterSubject is where a stage parks input it could not use.
func DeadLetterSubject(stage string) string { return "deadletter." + stage }

// CompletenessSubject is where a source reports what it may have missed.
func CompletenessSubject(source string) string { return "steward.completeness." + source }

// DeletionsSubject is where a source reports posts deleted at their source.
func DeletionsSubject(source string) string { return "steward.deletions." + source }

// StreamOptions tune the streams; zero values take the defaults.
type StreamOptions struct {
	Replicas        int           // 1 for a single server, 3 on a cluster
	PostsMaxAge     time.Duration // how long posts stay replayable
	DuplicateWindow time.Duration // how long a Nats-Msg-Id is remembered
	LiveMaxAge      time.Duration
}

func (o StreamOptions) withDefaults() StreamOptions {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.PostsMaxAge == 0 {
		o.PostsMaxAge = 72 * time.Hour
	}
	if o.DuplicateWindow == 0 {
		// Covers an ingestor's resume overlap; older duplicates still collapse in
		// ClickHouse, whose tables deduplicate on post id.
		o.DuplicateWindow = 20 * time.Minute
	}
	if o.LiveMaxAge == 0 {
		o.LiveMaxAge = 24 * time.Hour
	}
	return o
}

// EnsureStreams creates or updates the streams and the cursor bucket.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, opts StreamOptions) error {
	opts = opts.withDefaults()
	streams := []jetstream.StreamConfig{
		{
			Name:        PostsStream,
			Description: "canonical posts from every source",
			Subjects:    []string{"posts.>"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      opts.PostsMaxAge,
			Duplicates:  opts.DuplicateWindow,
			Replicas:    opts.Replicas,
		},
		{
			Name:        LiveStream,
			Description: "committed posts and derived updates for the web tier",
			Subjects:    []string{"live.>"},
			Storage:     jetstream.FileStorage,
			MaxAge:      opts.LiveMaxAge,
			Replicas:    opts.Replicas,
		},
		{
			Name:        StewardStream,
			Description: "completeness events and deletions reported by ingestors",
			Subjects:    []string{"steward.>"},
			Storage:     jetstream.FileStorage,
			MaxAge:      opts.PostsMaxAge,
			Duplicates:  opts.DuplicateWindow,
			Replicas:    opts.Replicas,
		},
		{
			Name:        DeadLetterStream,
			Description: "input that could not be used, with the reason in a header",
			Subjects:    []string{"deadletter.>"},
			Storage:     jetstream.FileStorage,
			MaxAge:      30 * 24 * time.Hour,
			Replicas:    opts.Replicas,
		},
	}
	for _, cfg := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("create stream %s: %w", cfg.Name, err)
		}
	}
	_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      CursorBucket,
		Description: "ingestor resume points",
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("create kv bucket %s: %w", CursorBucket, err)
	}
	_, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BlueskyBucket,
		Description: "Bluesky handles of DIDs and posts kept, remembered across restarts",
		Storage:     jetstream.FileStorage,
		// Bounded by age, not by a MaxBytes: JetStream reserves a bucket's MaxBytes up front,
		// and on a small disk that reservation alone refused start-up (the disk-full chaos
		// test runs on 256 MiB). Its entries are small: handles and ids of kept posts.
		TTL:      30 * 24 * time.Hour,
		Replicas: opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("create kv bucket %s: %w", BlueskyBucket, err)
	}
	return nil
}

// Connect dials NATS and waits until the connection is up, so a wrong --nats-url fails
// at start-up with a message that says which URL and which flag.
func Connect(ctx context.Context, url, name string, extra ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	opts := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.Timeout(5 * time.Second),
	}, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w (is the server running? set --nats-url / CHATNIGHT_NATS_URL)", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream on %s: %w", url, err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		nc.Close()
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
			return nil, nil, fmt.Errorf("NATS at %s has JetStream disabled: start nats-server with -js", url)
		}
		return nil, nil, fmt.Errorf("jetstream account info on %s: %w", url, err)
	}
	return nc, js, nil
}

// StreamsReady reports whether JetStream answers for the posts stream within two seconds,
// and says what it reports otherwise: a connected client is not enough, JetStream may have
// stopped storing (its disk full) while the connection stays up.
func StreamsReady(ctx context.Context, js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, PostsStream)
	if err != nil {
		return fmt.Errorf("jetstream: stream %s: %w", PostsStream, err)
	}
	if _, err := s.Info(ctx); err != nil {
		return fmt.Errorf("jetstream: stream %s: %w", PostsStream, err)
	}
	return nil
}
