// Security keys and passkeys (WebAuthn). A form marked data-webauthn="register" or
// "authenticate" first asks the server for a challenge (POST to its data-begin URL), lets the
// browser talk to the key, puts the key's answer in the form's hidden "credential" field and
// submits the form normally; the server checks the answer and renders the next page.
(function () {
  function fromB64url(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function ids(list) {
    (list || []).forEach(function (c) { c.id = fromB64url(c.id); });
  }

  // The server's options carry binary values as base64url text; the browser wants bytes.
  function creationOptions(options) {
    var pk = options.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    pk.user.id = fromB64url(pk.user.id);
    ids(pk.excludeCredentials);
    // Chromium refuses a credential-protection policy for keys that are not resident ("protection
    // policy is inconsistent"); the server asks for it only opportunistically.
    if (pk.extensions) {
      delete pk.extensions.credentialProtectionPolicy;
      delete pk.extensions.enforceCredentialProtectionPolicy;
    }
    return { publicKey: pk };
  }

  function requestOptions(options) {
    var pk = options.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    ids(pk.allowCredentials);
    return { publicKey: pk };
  }

  function registration(c) {
    return {
      id: c.id, rawId: toB64url(c.rawId), type: c.type, clientExtensionResults: {},
      response: {
        attestationObject: toB64url(c.response.attestationObject),
        clientDataJSON: toB64url(c.response.clientDataJSON)
      }
    };
  }

  function assertion(c) {
    return {
      id: c.id, rawId: toB64url(c.rawId), type: c.type, clientExtensionResults: {},
      response: {
        authenticatorData: toB64url(c.response.authenticatorData),
        clientDataJSON: toB64url(c.response.clientDataJSON),
        signature: toB64url(c.response.signature),
        userHandle: c.response.userHandle ? toB64url(c.response.userHandle) : null
      }
    };
  }

  function say(form, message) {
    var box = form.querySelector("[data-webauthn-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  function explain(err) {
    if (err && err.name === "NotAllowedError") {
      return "The key did not answer: the prompt was cancelled or timed out. Try again.";
    }
    if (err && err.name === "InvalidStateError") return "This key is registered already.";
    if (err && err.name === "SecurityError") {
      return "Security keys work only at this dashboard's own address. Open it at the address your administrator gave (or http://localhost on this machine) and try again.";
    }
    return (err && err.message) || "The security key could not be used. Try again.";
  }

  function start(form) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(form, "This browser cannot use security keys. Use an up-to-date browser, or your authenticator app.");
      return;
    }
    var register = form.dataset.webauthn === "register";
    var headers = { "X-CSRF-Token": form.querySelector("input[name=csrf_token]").value };
    // A step-up code typed in the form goes with the challenge request, once.
    var otp = form.querySelector("input[name=otp]");
    if (otp && otp.value.trim()) headers["X-OTP"] = otp.value.trim();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    say(form, "");
    fetch(form.dataset.begin, { method: "POST", headers: headers, credentials: "same-origin" })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (!res.ok) throw new Error(body.message || "The server could not start. Reload the page and try again.");
          return body;
        });
      })
      .then(function (options) {
        if (otp) otp.value = "";
        return register
          ? navigator.credentials.create(creationOptions(options))
          : navigator.credentials.get(requestOptions(options));
      })
      .then(function (credential) {
        form.querySelector("input[name=credential]").value =
          JSON.stringify(register ? registration(credential) : assertion(credential));
        form.dataset.webauthnDone = "1";
        form.submit();
      })
      .catch(function (err) {
        if (button) button.disabled = false;
        say(form, explain(err));
      });
  }

  // Capture phase, so that htmx's boosted submit never sees these forms.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-webauthn]") || form.dataset.webauthnDone) return;
    e.preventDefault();
    e.stopPropagation();
    start(form);
  }, true);
})();
