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

    /// The body as a stream of chunks. A streaming call went through the layer like any other
    /// (the 401 handling and the retry happen before the first chunk is read), so this only
    /// reads the body of the answer that was kept.
    fn try_into_stream(
        self,
    ) -> Result<impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + Sync + 'static, E> {
        let body = self.0.body().ok_or_else(|| {
            ServerFnErrorErr::Response("the response has no body to stream".into()).into_app_error()
        })?;
        let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
        let chunks = futures::stream::unfold(Some(reader), |reader| async move {
            let reader = reader?;
            let step = match JsFuture::from(reader.read()).await {
                Ok(step) => step,
                Err(e) => {
                    let message = format!("the stream broke: {}", super::platform::js_message(&e));
                    return Some((Err(Bytes::from(message)), None));
                }
            };
            let done = js_sys::Reflect::get(&step, &"done".into())
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if done {
                return None;
            }
            let value = js_sys::Reflect::get(&step, &"value".into()).ok()?;
            let bytes = js_sys::Uint8Array::new(&value).to_vec();
            Some((Ok(Bytes::from(bytes)), Some(reader)))
        });
        Ok(SendWrapper::new(Box::pin(chunks)))
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
