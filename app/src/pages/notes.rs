//! `/notes`: the user's notes, newest first; create, edit, delete.

use crate::{
    api::{count_devices, list_notes, CreateNote, DeleteNote, UpdateNote, DEVICE_COUNT_CAP},
    components::{use_current_user, ErrorNotice},
    model::Note,
};
use leptos::{either::Either, html, prelude::*};
use sessionflow::ApiError;

#[component]
pub fn NotesPage() -> impl IntoView {
    let create = ServerAction::<CreateNote>::new();
    let update = ServerAction::<UpdateNote>::new();
    let delete = ServerAction::<DeleteNote>::new();
    let notes = Resource::new(
        move || {
            (
                create.version().get(),
                update.version().get(),
                delete.version().get(),
            )
        },
        |_| list_notes(),
    );

    // Clear the form after a note is created; keep the last input for Retry.
    let form = NodeRef::<html::Form>::new();
    let last = StoredValue::new(None::<CreateNote>);
    Effect::new(move |_| {
        if let Some(input) = create.input().get() {
            last.set_value(Some(input));
        }
    });
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(f)) = (create.value().get(), form.get()) {
            f.reset();
        }
    });
    let retry_create = Callback::new(move |_| {
        if let Some(input) = last.get_value() {
            create.dispatch(input);
        }
    });
    let reload = Callback::new(move |_| notes.refetch());
    // The export streams: chunks are appended as they arrive.
    let export = RwSignal::new(None::<Result<String, ApiError>>);
    let run_export = move |_| {
        export.set(Some(Ok(String::new())));
        leptos::task::spawn_local(async move {
            use futures::StreamExt;
            match crate::api::export_notes().await {
                Ok(stream) => {
                    let mut chunks = stream.into_inner();
                    while let Some(chunk) = chunks.next().await {
                        match chunk {
                            Ok(text) => export.update(|e| {
                                if let Some(Ok(so_far)) = e {
                                    so_far.push_str(&text);
                                }
                            }),
                            Err(e) => export.set(Some(Err(e))),
                        }
                    }
                }
                Err(e) => export.set(Some(Err(e))),
            }
        });
    };
    let devices = Resource::new(|| (), |_| count_devices());
    // The header's resource: the user is asked for once per render.
    let me = use_current_user();

    view! {
        <section>
            <h1>"Your notes"</h1>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    // Both resources are already loading (they start when created); awaiting one after the
                    // other does not serialize the requests.
                    let (who, devices) = (me.await, devices.await);
                    let email = who.ok().flatten().map(|u| u.email).unwrap_or_default();
                    devices.ok().map(|n| {
                        let plural = if n == 1 { "" } else { "s" };
                        let n = if n >= u64::from(DEVICE_COUNT_CAP) { format!("{n}+") } else { n.to_string() };
                        view! {
                            <p class="muted" data-testid="device-count">
                                {format!("{email} · signed in on {n} device{plural} · ")}
                                <a href="/sessions">"Manage devices"</a>
                            </p>
                        }
                    })
                })}
            </Transition>
            <ActionForm action=create node_ref=form attr:class="card" attr:data-testid="new-note-form">
                <label for="note-title">"Title"</label>
                <input id="note-title" name="title" required maxlength="200" data-testid="note-title"/>
                <label for="note-body">"Note"</label>
                <textarea id="note-body" name="body" rows="4" data-testid="note-body"></textarea>
                <button type="submit" data-testid="note-submit" disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Saving…" } else { "Add note" }}
                </button>
            </ActionForm>
            {move || {
                create
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|e| view! { <ErrorNotice error=e on_retry=retry_create/> })
            }}
            {move || {
                update
                    .value()
                    .get()
                    .or(delete.value().get())
                    .and_then(Result::err)
                    .map(|e| view! { <ErrorNotice error=e/> })
            }}
            <p class="row">
                <button type="button" class="secondary" data-testid="export" on:click=run_export>
                    "Export as text"
                </button>
            </p>
            {move || export.get().map(|e| match e {
                Ok(text) => view! { <pre class="card" data-testid="export-text">{text}</pre> }.into_any(),
                Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
            })}
            <Transition fallback=|| view! { <p class="muted" data-testid="notes-loading">"Loading notes…"</p> }>
                {move || Suspend::new(async move {
                    match notes.await {
                            Ok(list) if list.is_empty() => {
                                view! {
                                    <p class="empty" data-testid="notes-empty">
                                        "No notes yet. Write the first one above."
                                    </p>
                                }
                                    .into_any()
                            }
                            Ok(list) => view! { <NoteList notes=list update delete/> }.into_any(),
                            Err(e) => view! { <ErrorNotice error=e on_retry=reload/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The notes, newest first, one card each: what the page shows once they are loaded (rendered
/// on its own by the render benchmark, `server/benches/render.rs`).
///
/// The list holds the reactive state its rows share (which note is open for editing, whether a
/// save or a delete is on its way); a row holds none of its own, only its note's text and the
/// closures that read the list's state.
#[component]
pub fn NoteList(
    notes: Vec<Note>,
    update: ServerAction<UpdateNote>,
    delete: ServerAction<DeleteNote>,
) -> impl IntoView {
    // One memo each for the whole list: `pending()` makes a new one per call.
    let (saving, deleting) = (update.pending(), delete.pending());
    // The id of the note open for editing, if any: one signal for the list, not one per row.
    let editing = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(())) = update.value().get() {
            editing.set(None);
        }
    });
    let rows = Rows {
        update,
        delete,
        saving,
        deleting,
        editing,
    };
    view! {
        <ul class="notes" data-testid="notes-list">
            {notes.into_iter().map(|note| rows.row(note)).collect_view()}
        </ul>
    }
}

/// What every row reads: the list's actions and state (all `Copy` handles).
#[derive(Clone, Copy)]
struct Rows {
    update: ServerAction<UpdateNote>,
    delete: ServerAction<DeleteNote>,
    saving: Memo<bool>,
    deleting: Memo<bool>,
    editing: RwSignal<Option<String>>,
}

impl Rows {
    fn row(self, note: Note) -> impl IntoView {
        let Self {
            update,
            delete,
            saving,
            deleting,
            editing,
        } = self;
        let Note {
            id,
            title,
            body,
            created_at,
            ..
        } = note;
        let open = {
            let id = id.clone();
            move || editing.with(|e| e.as_deref() == Some(id.as_str()))
        };
        let toggle = {
            let id = id.clone();
            move |_: leptos::ev::MouseEvent| {
                editing.update(|e| {
                    *e = if e.as_deref() == Some(id.as_str()) {
                        None
                    } else {
                        Some(id.clone())
                    }
                })
            }
        };
        let delete_id = id.clone();
        let when = crate::model::when(&created_at);
        view! {
            <li class="note card" data-testid="note">
                // A plain closure rather than <Show>: no memo and no owner per row for the switch.
                {move || if open() {
                    // ActionForm's children are built once, so they take their own copies.
                    let (id, title, body) = (id.clone(), title.clone(), body.clone());
                    Either::Left(view! {
                        <ActionForm action=update attr:class="edit">
                            <input type="hidden" name="id" value=id/>
                            <label>"Title" <input name="title" required value=title data-testid="edit-title"/></label>
                            <label>"Note" <textarea name="body" rows="4" data-testid="edit-body">{body}</textarea></label>
                            <button type="submit" data-testid="save-note" disabled=move || saving.get()>
                                {move || if saving.get() { "Saving…" } else { "Save" }}
                            </button>
                            <button type="button" class="secondary" on:click=move |_| editing.set(None)>"Cancel"</button>
                        </ActionForm>
                    })
                } else {
                    Either::Right(view! {
                        <h2 data-testid="note-title-text">{title.clone()}</h2>
                        <p class="note-body" data-testid="note-body-text">{body.clone()}</p>
                        <p class="muted small">{when.clone()}</p>
                    })
                }}
                <div class="row">
                    <button type="button" class="secondary" data-testid="edit-note" on:click=toggle>"Edit"</button>
                    <ActionForm action=delete attr:class="inline">
                        <input type="hidden" name="id" value=delete_id/>
                        <button type="submit" class="danger" data-testid="delete-note"
                            disabled=move || deleting.get()>"Delete"</button>
                    </ActionForm>
                </div>
            </li>
        }
    }
}
