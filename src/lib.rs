//! Steadfast: a pupil-support tracker for schools that follow the Coaching Sequence.
//!
//! `domain` holds the Coaching Sequence itself (pure, no IO); `db` stores it on SQLite or
//! PostgreSQL; `web` serves staff pages and the JSON API; `commands` are the command line.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod accounts;
pub mod backup;
pub mod commands;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod imports;
pub mod jobs;
pub mod mail;
pub mod web;
