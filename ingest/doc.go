// Package ingest holds what every source shares: the Source contract, the Emitter that
// publishes canonical posts and parks bad records, and resumable cursors in NATS KV.
// Each network lives in its own package (ingest/xapi, ingest/mastodon, ingest/bluesky);
// archive files are read by ingest/archive. Sources retry with pipeline/backoff.
//
// Imports: ingest packages import the pipeline packages that define what they publish
// and how (pipeline/post, pipeline/community, pipeline/bus, pipeline/backoff) and never
// the processor, storage, web or cmd: a source's only way into the rest of chatnight is
// a message on the posts stream.
package ingest
