//! Render cost apart from plumbing: the notes page's list of 20 notes rendered to a string by
//! Leptos, with no HTTP, no database, no server function. Set against `wrk` on `/notes` (the
//! whole request, `xtask/bench.sh`), the difference is what the request around the markup costs.
//!
//! `cargo bench -p server --bench render`.

use app::{
    api::{DeleteNote, UpdateNote},
    model::Note,
    NoteList,
};
use criterion::{criterion_group, criterion_main, Criterion};
use leptos::prelude::*;

// The allocator the server runs with (server/src/main.rs), so the number is the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn notes(n: usize) -> Vec<Note> {
    (0..n)
        .map(|i| Note {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            title: format!("Note number {i}"),
            body: "A short body, as most notes have: a line or two of plain text.".repeat(2),
            created_at: "2026-12-01T18:00:00Z".into(),
            updated_at: "2026-12-01T18:00:00Z".into(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let twenty = notes(20);
    let render = || {
        Owner::new().with(|| {
            let update = ServerAction::<UpdateNote>::new();
            let delete = ServerAction::<DeleteNote>::new();
            view! { <NoteList notes=twenty.clone() update delete/> }.to_html()
        })
    };
    let html = render();
    assert_eq!(html.matches("data-testid=\"note\"").count(), 20, "{html}");
    c.bench_function("render: notes list, 20 notes, to a string", |b| {
        b.iter(render)
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
