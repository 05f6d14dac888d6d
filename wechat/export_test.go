package wechat

import (
	"context"

	"github.com/minishop/minishop/storage"
)

// TestJob is a relay document for the job runner's tests.
type TestJob struct {
	Job
	N int `json:"n"`
}

// Enqueue, Work and Requeue expose the job runner to the tests.
func (c *Client) Enqueue(ctx context.Context, kind, key string, doc *TestJob) error {
	return c.enqueue(ctx, kind, key, doc)
}

func Work(ctx context.Context, c *Client, kind string, r Retry, limit int, do func(ctx context.Context, rec *storage.Record, doc *TestJob) error) (int, error) {
	return work(ctx, c, kind, r, limit, do)
}

func Requeue(ctx context.Context, c *Client, kind, key string) error {
	return requeue[TestJob](ctx, c, kind, key)
}
