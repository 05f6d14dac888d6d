// Package commercetest helps test code built on minishop: a clock moved by
// hand, sequential IDs, and fixtures that open a shop with products in one
// call. Hosts use it in their own tests as minishop does.
package commercetest
