//! Helpers shared by the integration tests.

// Each test target that includes this module uses a part of it.
#![allow(dead_code)]

pub mod http_server;
