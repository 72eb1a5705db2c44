//! `/sessions`: where the user is signed in; revoke one, or sign out everywhere.

use crate::{
    api::{list_devices, LogoutEverywhere, RevokeDevice},
    components::ErrorNotice,
    model::when,
};
use leptos::prelude::*;
use sessionflow::Device;

/// A short, readable name for a user agent string.
fn device_name(ua: Option<&str>) -> String {
    let Some(ua) = ua else {
        return "Unknown device".into();
    };
    let browser = ["Firefox", "Edg", "Chrome", "Safari", "curl", "node"]
        .into_iter()
        .find(|b| ua.contains(b))
        .map(|b| if b == "Edg" { "Edge" } else { b });
    let os = ["Windows", "Mac OS", "Android", "iPhone", "Linux"]
        .into_iter()
        .find(|o| ua.contains(o));
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        _ => ua.chars().take(60).collect(),
    }
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeDevice>::new();
    let everywhere = ServerAction::<LogoutEverywhere>::new();
    let devices = Resource::new(move || revoke.version().get(), |_| list_devices());
    let reload = Callback::new(move |_| devices.refetch());
    let session = sessionflow::session::use_session();
    Effect::new(move |_| {
        if let Some(Ok(())) = everywhere.value().get() {
            session.signed_out();
        }
    });
    view! {
        <section>
            <h1>"Devices"</h1>
            <p class="muted">"Everywhere you are signed in. Revoke a device to sign it out."</p>
            {move || revoke.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <Transition fallback=|| view! { <p class="muted">"Loading devices…"</p> }>
                {move || Suspend::new(async move {
                    match devices.await {
                            Ok(list) => {
                                view! {
                                    <ul class="devices" data-testid="devices">
                                        {list
                                            .into_iter()
                                            .map(|d| view! { <DeviceRow device=d revoke/> })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                            Err(e) => view! { <ErrorNotice error=e on_retry=reload/> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=everywhere>
                <button type="submit" class="danger" data-testid="logout-everywhere"
                    disabled=move || everywhere.pending().get()>
                    {move || if everywhere.pending().get() { "Signing out…" } else { "Sign out everywhere" }}
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
fn DeviceRow(device: Device, revoke: ServerAction<RevokeDevice>) -> impl IntoView {
    let Device {
        id,
        created_at,
        last_used_at,
        user_agent,
        current,
    } = device;
    view! {
        <li class="device card" data-testid="device" data-current=current.to_string()>
            <div>
                <strong>{device_name(user_agent.as_deref())}</strong>
                {current.then(|| view! { <span class="badge" data-testid="this-device">"this device"</span> })}
                <p class="muted small">"Signed in " {when(&created_at)} " · last used " {when(&last_used_at)}</p>
            </div>
            {(!current).then(|| view! {
                <ActionForm action=revoke attr:class="inline">
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="secondary" data-testid="revoke"
                        disabled=move || revoke.pending().get()>"Revoke"</button>
                </ActionForm>
            })}
        </li>
    }
}
