package memory_test

import (
	"testing"

	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/storage/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t testing.TB) storetest.Store { return memory.New() },
	})
}
