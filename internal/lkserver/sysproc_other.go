//go:build !linux

package lkserver

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
