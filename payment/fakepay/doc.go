// Package fakepay is a deterministic payment channel for tests, examples and
// local development. It keeps its payments in memory, succeeds, fails or
// holds on command, and sends its notifications as signed HTTP requests
// that go through the same path as a real channel's: the host's
// notification handler, the provider's verification, the payment service.
package fakepay
