package main

import (
	"context"
	"errors"
	"io"
	"time"
)

type loadConfig struct {
	Duration time.Duration
	Workers  int
}

type loadReport struct{}

func runLoad(ctx context.Context, s *server, c loadConfig) (*loadReport, error) {
	return nil, errors.New("todo")
}
func (r *loadReport) Print(w io.Writer) {}
func (r *loadReport) Err() error        { return nil }
