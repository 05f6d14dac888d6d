package wechat

import "github.com/minishop/minishop/storage"

// Store is what package wechat keeps. storage/memory and storage/sqlstore
// implement it; storage/storetest holds the contract.
type Store interface {
	storage.Transactor
	storage.Records
}
