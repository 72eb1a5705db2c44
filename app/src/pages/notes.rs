//! `/notes`: the user's notes, newest first; create, edit, delete.

use crate::{
    api::{
        count_devices, current_user, list_notes, CreateNote, DeleteNote, UpdateNote,
        DEVICE_COUNT_CAP,
    },
    components::ErrorNotice,
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
    let me = Resource::new(|| (), |_| current_user());

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
#[component]
pub fn NoteList(
    notes: Vec<Note>,
    update: ServerAction<UpdateNote>,
    delete: ServerAction<DeleteNote>,
) -> impl IntoView {
    // One memo each for the whole list: `pending()` makes a new one per call.
    let (saving, deleting) = (update.pending(), delete.pending());
    view! {
        <ul class="notes" data-testid="notes-list">
            {notes
                .into_iter()
                .map(|note| view! { <NoteItem note update delete saving deleting/> })
                .collect_view()}
        </ul>
    }
}

#[component]
fn NoteItem(
    note: Note,
    update: ServerAction<UpdateNote>,
    delete: ServerAction<DeleteNote>,
    saving: Memo<bool>,
    deleting: Memo<bool>,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(())) = update.value().get() {
            editing.set(false);
        }
    });
    let Note {
        id,
        title,
        body,
        created_at,
        ..
    } = note;
    let (id, title, body) = (
        StoredValue::new(id),
        StoredValue::new(title),
        StoredValue::new(body),
    );
    view! {
        <li class="note card" data-testid="note">
            // A plain closure rather than <Show>: no memo and no owner per row for the switch.
            {move || if editing.get() {
                Either::Left(view! {
                    <ActionForm action=update attr:class="edit">
                        <input type="hidden" name="id" value=id.get_value()/>
                        <label>"Title" <input name="title" required value=title.get_value() data-testid="edit-title"/></label>
                        <label>"Note" <textarea name="body" rows="4" data-testid="edit-body">{body.get_value()}</textarea></label>
                        <button type="submit" data-testid="save-note" disabled=move || saving.get()>
                            {move || if saving.get() { "Saving…" } else { "Save" }}
                        </button>
                        <button type="button" class="secondary" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </ActionForm>
                })
            } else {
                Either::Right(view! {
                    <h2 data-testid="note-title-text">{title.get_value()}</h2>
                    <p class="note-body" data-testid="note-body-text">{body.get_value()}</p>
                    <p class="muted small">{crate::model::when(&created_at)}</p>
                })
            }}
            <div class="row">
                <button type="button" class="secondary" data-testid="edit-note"
                    on:click=move |_| editing.update(|e| *e = !*e)>"Edit"</button>
                <ActionForm action=delete attr:class="inline">
                    <input type="hidden" name="id" value=id.get_value()/>
                    <button type="submit" class="danger" data-testid="delete-note"
                        disabled=move || deleting.get()>"Delete"</button>
                </ActionForm>
            </div>
        </li>
    }
}
