//! The response type of [`AuthClient`](crate::AuthClient): a `fetch` `Response`.

use send_wrapper::SendWrapper;
use server_fn::{
    error::{FromServerFnError, IntoAppError, ServerFnErrorErr},
    redirect::REDIRECT_HEADER,
    response::ClientRes,
    Bytes,
};
use std::future::Future;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// A `fetch` response as the server-function machinery reads it.
pub struct AuthResponse(pub(crate) SendWrapper<web_sys::Response>);

async fn read<E: FromServerFnError>(
    promise: Result<js_sys::Promise, wasm_bindgen::JsValue>,
) -> Result<wasm_bindgen::JsValue, E> {
    let promise = promise
        .map_err(|e| ServerFnErrorErr::Deserialization(format!("{e:?}")).into_app_error())?;
    JsFuture::from(promise)
        .await
        .map_err(|e| ServerFnErrorErr::Deserialization(format!("{e:?}")).into_app_error())
}

impl<E: FromServerFnError> ClientRes<E> for AuthResponse {
    fn try_into_string(self) -> impl Future<Output = Result<String, E>> + Send {
        SendWrapper::new(async move {
            let text = read::<E>(self.0.text()).await?;
            Ok(text.as_string().unwrap_or_default())
        })
    }

    fn try_into_bytes(self) -> impl Future<Output = Result<Bytes, E>> + Send {
        SendWrapper::new(async move {
            let buf = read::<E>(self.0.array_buffer()).await?;
            let bytes = js_sys::Uint8Array::new(&buf.unchecked_into::<js_sys::ArrayBuffer>());
            Ok(Bytes::from(bytes.to_vec()))
        })
    }

    /// Streaming responses are not routed through this client; use the default client for them.
    fn try_into_stream(
        self,
    ) -> Result<impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + Sync + 'static, E> {
        Err::<futures::stream::Empty<Result<Bytes, Bytes>>, E>(
            ServerFnErrorErr::Response(
                "streaming responses are not supported by AuthClient".into(),
            )
            .into_app_error(),
        )
    }

    fn status(&self) -> u16 {
        self.0.status()
    }

    fn status_text(&self) -> String {
        self.0.status_text()
    }

    fn location(&self) -> String {
        self.0
            .headers()
            .get("Location")
            .ok()
            .flatten()
            .unwrap_or_else(|| self.0.url())
    }

    fn has_redirect(&self) -> bool {
        self.0
            .headers()
            .get(REDIRECT_HEADER)
            .ok()
            .flatten()
            .is_some()
    }
}
