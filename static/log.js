/* Steadfast: small enhancements of the staff pages, for logging on a phone.
 *
 * Every form works without this script. With it:
 * - the pupil search on the logging page shows results as you type, and the incident form
 *   adds a pupil in place (without the script, "Find" and "Add" show the form again, with
 *   everything typed kept);
 * - prompt and details forms (those marked data-queue) are sent from a queue kept on the
 *   device: each submission gets its own key, is stored in localStorage FIRST, then sent with
 *   fetch (asking for JSON). It leaves the queue only when Steadfast answered 2xx, or refused
 *   it for good (a 4xx that will never succeed, shown to the person). On a network failure it
 *   stays queued and is sent again every few seconds, when the device comes back online, and
 *   when a page loads. The key travels with every try and Steadfast logs once per key and
 *   member of staff, so a replay never logs twice. A button says "Logged ✓" only once
 *   Steadfast answered; "Saved on this phone, will send" while it waits in the queue, and a
 *   strip at the top names the pupils waiting. After logging, focus moves to the
 *   confirmation's Undo;
 * - the service worker (/sw.js) is registered, so that /log opens with no network;
 * - the details form's time follows the clock until it is changed, and a behaviour marked
 *   serious ticks "Serious".
 * No framework, no build step, nothing downloaded.
 */
(function () {
  'use strict';

  var QUEUE_KEY = 'steadfast.queue.v1';
  var RETRY_MS = 4000;
  var BUTTON_RESET_MS = 2500;

  var staff = document.body && document.body.getAttribute('data-staff');
  if (!staff || !window.fetch || !window.URLSearchParams) {
    return; // not signed in, or an old browser: the plain forms do the work
  }
  document.documentElement.className += ' js';

  // ---- keys ------------------------------------------------------------------------------

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      try {
        return window.crypto.randomUUID();
      } catch (e) { /* not a secure context: fall through */ }
    }
    var bytes = new Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      var random = new Uint8Array(16);
      window.crypto.getRandomValues(random);
      for (var i = 0; i < 16; i++) bytes[i] = random[i];
    } else {
      for (var j = 0; j < 16; j++) bytes[j] = Math.floor(Math.random() * 256);
    }
    return bytes.map(function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  // ---- the queue in localStorage ---------------------------------------------------------

  var storage = null;
  try {
    storage = window.localStorage;
    storage.setItem(QUEUE_KEY + '.probe', '1');
    storage.removeItem(QUEUE_KEY + '.probe');
  } catch (e) {
    storage = null; // private mode or storage refused: send directly, still keyed
  }

  function loadQueue() {
    if (!storage) return [];
    try {
      var queue = JSON.parse(storage.getItem(QUEUE_KEY) || '[]');
      return Array.isArray(queue) ? queue : [];
    } catch (e) {
      return [];
    }
  }

  function saveQueue(queue) {
    if (!storage) return false;
    try {
      storage.setItem(QUEUE_KEY, JSON.stringify(queue));
      return true;
    } catch (e) {
      return false;
    }
  }

  /** Stores a submission; answers whether it is safely on the device. */
  function enqueue(entry) {
    var queue = loadQueue();
    queue.push(entry);
    return saveQueue(queue);
  }

  function dequeue(key) {
    saveQueue(loadQueue().filter(function (entry) { return entry.key !== key; }));
  }

  /** This member's waiting submissions (another member's wait for them to sign in here). */
  function waiting() {
    return loadQueue().filter(function (entry) { return entry.staff === staff; });
  }

  // ---- what the person sees --------------------------------------------------------------

  var note = '';

  function statusElement() {
    var status = document.getElementById('queue-status');
    if (!status) {
      status = document.createElement('p');
      status.id = 'queue-status';
      status.className = 'queue-status';
      status.setAttribute('role', 'status');
      status.setAttribute('aria-live', 'polite');
      status.hidden = true;
      var main = document.querySelector('main');
      if (main) main.insertBefore(status, main.firstChild);
    }
    return status;
  }

  var QUEUED = 'Saved on this phone, will send';

  function showStatus() {
    var status = statusElement();
    var pending = waiting();
    var count = pending.length;
    var parts = [];
    if (count) {
      var labels = pending.map(function (entry) { return entry.label; }).filter(Boolean);
      parts.push(QUEUED + ' (' + count + '): ' + labels.join(', '));
    }
    if (count && note) parts.push(note);
    status.textContent = parts.join(' · ');
    status.hidden = parts.length === 0;
    status.className = 'queue-status' + (count ? ' waiting' : '');
  }

  function confirmationBox() {
    var box = document.getElementById('confirmation');
    if (!box) {
      box = document.createElement('div');
      box.id = 'confirmation';
      box.setAttribute('aria-live', 'polite');
      var main = document.querySelector('main');
      if (main) main.appendChild(box);
    }
    return box;
  }

  function addCloseButton(box) {
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'close';
    close.setAttribute('aria-label', 'Close');
    close.textContent = '×';
    close.addEventListener('click', function () {
      box.textContent = '';
      box.classList.remove('floating');
    });
    var card = box.firstElementChild;
    if (card) card.insertBefore(close, card.firstChild);
  }

  /** Shows the confirmation and moves focus to its Undo (or to the card, once undone). */
  function showConfirmation(html) {
    var box = confirmationBox();
    box.innerHTML = html; // rendered and escaped by Steadfast
    box.classList.add('floating');
    addCloseButton(box);
    var target = box.querySelector('button.undo') || box.querySelector('.confirmation');
    if (target) target.focus();
  }

  function showProblem(message) {
    var box = confirmationBox();
    box.textContent = '';
    var card = document.createElement('section');
    card.className = 'card confirmation problem';
    var text = document.createElement('p');
    text.className = 'error';
    text.setAttribute('role', 'alert');
    text.textContent = message;
    card.appendChild(text);
    box.appendChild(card);
    box.classList.add('floating');
    addCloseButton(box);
  }

  var LABELS = { sending: 'Sending…', logged: 'Logged ✓', queued: QUEUED, failed: 'Not logged' };

  /** The button that logs: the form's last submit button ("Prompt", "Log"). */
  function logButton(form) {
    var buttons = form ? form.querySelectorAll('button[type=submit]') : [];
    return buttons.length ? buttons[buttons.length - 1] : null;
  }

  /** Puts a form's button back as it was, ready to send again. */
  function resetForm(form) {
    var button = logButton(form);
    clearTimeout(form.steadfastReset);
    form.removeAttribute('data-busy');
    if (!button) return;
    if (button.hasAttribute('data-text')) button.textContent = button.getAttribute('data-text');
    button.removeAttribute('data-state');
    button.disabled = false;
  }

  /** Shows the state of a submission on its button; unless kept, it comes back after a moment. */
  function markForm(form, state, keep) {
    var button = logButton(form);
    if (!button) return;
    if (!button.hasAttribute('data-text')) button.setAttribute('data-text', button.textContent);
    button.textContent = LABELS[state] || button.getAttribute('data-text');
    button.setAttribute('data-state', state);
    button.disabled = true;
    form.setAttribute('data-busy', '1');
    clearTimeout(form.steadfastReset);
    if (!keep) {
      form.steadfastReset = setTimeout(function () { resetForm(form); }, BUTTON_RESET_MS);
    }
  }

  function promptFormFor(entry) {
    if (entry.kind !== 'prompt') return null;
    var pupil = null;
    entry.fields.forEach(function (pair) { if (pair[0] === 'pupil_id') pupil = pair[1]; });
    return pupil && document.querySelector('li[data-pupil="' + pupil + '"] form.prompt');
  }

  function fieldProblem(form, field, message) {
    var slot = form && field && form.querySelector('[data-error-for="' + field + '"]');
    if (!slot) return false;
    slot.textContent = message;
    slot.hidden = false;
    if (slot.scrollIntoView) slot.scrollIntoView({ block: 'center' });
    return true;
  }

  function clearFieldProblems(form) {
    var slots = form.querySelectorAll('[data-error-for]');
    for (var i = 0; i < slots.length; i++) {
      slots[i].textContent = '';
      slots[i].hidden = true;
    }
  }

  // ---- sending ---------------------------------------------------------------------------

  function csrfToken() {
    var field = document.querySelector('input[name=csrf_token]');
    return field ? field.value : '';
  }

  /** Sends one submission; answers {outcome: 'sent'|'kept'|'refused', ...}. */
  function send(entry) {
    var body = new URLSearchParams();
    entry.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
    body.append('csrf_token', csrfToken());
    body.append('idempotency_key', entry.key);
    if (entry.kind === 'prompt') {
      body.append('age_seconds', String(Math.max(0, Math.round((Date.now() - entry.tapped) / 1000))));
    }
    return fetch(entry.action, {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    }).then(function (response) {
      var type = response.headers.get('content-type') || '';
      if (type.indexOf('application/json') === -1) {
        // Not Steadfast's JSON: the sign-in page after a redirect, or a refused form token.
        if (response.redirected || response.status === 401 || response.status === 403 || response.ok) {
          return { outcome: 'kept', note: 'sign in again or reload the page to send' };
        }
        if (response.status >= 500) return { outcome: 'kept' };
        return { outcome: 'refused', message: 'Steadfast refused this (' + response.status + ').' };
      }
      return response.json().then(function (data) {
        if (response.ok) return { outcome: 'sent', data: data };
        var s = response.status;
        if (s === 401 || s === 403 || s === 408 || s === 429 || s >= 500) return { outcome: 'kept' };
        var error = (data && data.error) || {};
        return { outcome: 'refused', message: error.message || 'Steadfast refused this.', field: error.field };
      }, function () {
        return response.ok ? { outcome: 'sent', data: {} } : { outcome: 'kept' };
      });
    }, function () {
      return { outcome: 'kept' }; // the network: try again later
    });
  }

  var inFlight = {};

  /** Sends one queued submission and acts on the answer. */
  function deliver(entry, form) {
    if (inFlight[entry.key]) return inFlight[entry.key];
    var attempt = send(entry).then(function (result) {
      delete inFlight[entry.key];
      form = form || promptFormFor(entry);
      if (result.outcome === 'sent') {
        dequeue(entry.key);
        note = '';
        var data = result.data || {};
        if (entry.kind === 'details' && form && data.id) {
          window.location.href = '/log?logged=' + encodeURIComponent(data.id);
          return result;
        }
        if (data.confirmation_html) showConfirmation(data.confirmation_html);
        if (form) markForm(form, 'logged');
      } else if (result.outcome === 'refused') {
        dequeue(entry.key);
        var message = 'Not logged' + (entry.label ? ' (' + entry.label + ')' : '') + ': ' + result.message;
        if (entry.kind === 'details' && form) {
          if (!fieldProblem(form, result.field, result.message)) showProblem(message);
          resetForm(form);
        } else {
          showProblem(message);
          if (form) markForm(form, 'failed');
        }
      } else {
        if (result.note) note = result.note;
        if (form && entry.kind === 'prompt') markForm(form, 'queued');
        if (form && entry.kind === 'details') {
          markForm(form, 'queued', true);
          showProblem(QUEUED + ': this will be sent as soon as Steadfast can be reached. You can go back to the list.');
        }
      }
      showStatus();
      return result;
    });
    inFlight[entry.key] = attempt;
    return attempt;
  }

  var flushing = false;

  /** Sends every waiting submission of this member, one after another. */
  function flush() {
    if (flushing) return;
    var pending = waiting();
    showStatus();
    if (!pending.length) return;
    flushing = true;
    var chain = Promise.resolve();
    pending.forEach(function (entry) {
      chain = chain.then(function () { return deliver(entry); });
    });
    chain.then(function () { flushing = false; showStatus(); }, function () { flushing = false; });
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form && form.classList && form.classList.contains('signout')) {
      var count = waiting().length;
      if (count && !window.confirm(count + ' waiting to send: they stay on this device and are sent when you next sign in here. Sign out anyway?')) {
        event.preventDefault();
      }
      return;
    }
    var kind = form && form.getAttribute && form.getAttribute('data-queue');
    if (!kind) return;
    event.preventDefault();
    var step = event.submitter && event.submitter.name;
    if (step === 'action' && event.submitter.value === 'find') return findToAdd(form);
    if (step === 'add_pupil') return addPupil(form, event.submitter);
    if (form.getAttribute('data-busy') === '1') return; // a double tap
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== 'csrf_token' && name !== 'idempotency_key') fields.push([name, String(value)]);
    });
    var entry = {
      key: newKey(),
      staff: staff,
      kind: kind,
      action: form.getAttribute('action'),
      fields: fields,
      label: form.getAttribute('data-label') || chosenNames(form),
      tapped: Date.now()
    };
    if (kind === 'details') clearFieldProblems(form);
    var stored = enqueue(entry);
    // "Logged ✓" waits for Steadfast's answer (see deliver).
    markForm(form, 'sending', true);
    showStatus();
    if (!stored) {
      // No storage: send once, still keyed; say so if it cannot go.
      send(entry).then(function (result) {
        if (result.outcome === 'sent' && result.data && result.data.confirmation_html) {
          showConfirmation(result.data.confirmation_html);
        } else if (result.outcome !== 'sent') {
          showProblem('Not logged: Steadfast could not be reached and this device cannot keep a queue. Try again.');
          markForm(form, 'failed');
        } else {
          markForm(form, 'logged');
        }
      });
      return;
    }
    deliver(entry, form);
  });

  window.addEventListener('online', flush);
  window.addEventListener('storage', function (event) {
    if (event.key === QUEUE_KEY) showStatus();
  });
  setInterval(function () {
    if (waiting().length) flush();
  }, RETRY_MS);

  // ---- results as you type ---------------------------------------------------------------

  var search = document.querySelector('input[data-live-search]');
  var results = document.getElementById('results');
  var template = document.getElementById('pupil-row-template');

  function pupilRow(pupil) {
    var row = template.content.querySelector('li').cloneNode(true);
    row.setAttribute('data-pupil', pupil.id);
    row.querySelector('a.who').href = '/pupils/' + pupil.id;
    row.querySelector('.name').textContent = pupil.name;
    var meta = row.querySelector('.meta');
    meta.textContent = pupil.form + ' ';
    if (pupil.level > 0) {
      var chip = document.createElement('span');
      chip.className = 'level level-' + pupil.level;
      chip.title = pupil.level_title;
      chip.textContent = 'L' + pupil.level;
      meta.appendChild(chip);
    }
    row.querySelector('a.details').href = '/log/new?pupil=' + pupil.id;
    var form = row.querySelector('form.prompt');
    form.setAttribute('data-label', pupil.name);
    form.querySelector('input[name=pupil_id]').value = pupil.id;
    form.querySelector('input[name=idempotency_key]').value = newKey();
    form.querySelector('button').title = 'Log a Coaching Prompt for ' + pupil.name;
    return row;
  }

  /** Asks Steadfast for the pupils matching `text`; answers them, or null when it cannot. */
  function askPupils(address, text) {
    return fetch(address + '?q=' + encodeURIComponent(text), {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    }).then(function (response) {
      var type = response.headers.get('content-type') || '';
      return response.ok && type.indexOf('application/json') !== -1 ? response.json() : null;
    }).then(function (data) { return data ? data.pupils || [] : null; });
  }

  /** Fills `box` with a list (of class `className`) of an item a pupil, or says none matches. */
  function listPupils(box, pupils, className, item) {
    box.textContent = '';
    if (!pupils.length) {
      var none = document.createElement('p');
      none.className = 'muted';
      none.textContent = 'No pupil matches.';
      box.appendChild(none);
      return;
    }
    var list = document.createElement('ul');
    list.className = className;
    pupils.forEach(function (pupil) { list.appendChild(item(pupil)); });
    box.appendChild(list);
  }

  if (search && results && template && template.content) {
    var timer = null;
    var asked = 0;
    search.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = search.value.trim();
        var mine = ++asked;
        if (text.length < 2) {
          if (!text) results.textContent = '';
          return;
        }
        askPupils(search.getAttribute('data-live-search'), text).then(function (pupils) {
          if (pupils && mine === asked) listPupils(results, pupils, 'pupil-rows', pupilRow);
        }, function () { /* offline: the list on the page still works */ });
      }, 200);
    });
  }

  // ---- adding a pupil to the incident form, in place --------------------------------------

  /** The names of the pupils ticked on the incident form, for the waiting strip. */
  function chosenNames(form) {
    var ticked = form.querySelectorAll('input[name=pupil_ids]:checked');
    var names = [];
    for (var i = 0; i < ticked.length; i++) names.push(ticked[i].getAttribute('data-name') || '');
    return names.filter(Boolean).join(', ');
  }

  /** Ticks a pupil on the incident form, from the button that offered them. */
  function addPupil(form, button) {
    var id = button.value;
    var chosen = document.getElementById('chosen-pupils');
    var chosenTemplate = document.getElementById('chosen-pupil-template');
    if (!chosen || !chosenTemplate || !chosenTemplate.content) return;
    var box = chosen.querySelector('input[name=pupil_ids][value="' + id + '"]');
    if (!box) {
      var label = chosenTemplate.content.querySelector('label').cloneNode(true);
      box = label.querySelector('input');
      box.value = id;
      box.setAttribute('data-name', button.getAttribute('data-name'));
      label.querySelector('.name').textContent = button.getAttribute('data-name');
      label.querySelector('.form').textContent = button.getAttribute('data-form');
      chosen.appendChild(label);
    }
    box.checked = true;
    var none = document.getElementById('no-pupils');
    if (none) none.remove();
    var found = document.getElementById('add-results');
    if (found) found.textContent = '';
    var field = form.querySelector('input[data-add-search]');
    if (field) { field.value = ''; field.focus(); }
  }

  /** Lists the pupils matching the incident form's search, each with an "Add" button. */
  function findToAdd(form) {
    var field = form.querySelector('input[data-add-search]');
    var found = document.getElementById('add-results');
    if (!field || !found) return;
    var text = field.value.trim();
    if (!text) { found.textContent = ''; return; }
    askPupils(field.getAttribute('data-add-search'), text).then(function (pupils) {
      if (!pupils || field.value.trim() !== text) return;
      pupils = pupils.filter(function (pupil) {
        return !form.querySelector('input[name=pupil_ids][value="' + pupil.id + '"]:checked');
      });
      listPupils(found, pupils, 'list', function (pupil) {
        var item = document.createElement('li');
        var add = document.createElement('button');
        add.type = 'button';
        add.className = 'add';
        add.value = pupil.id;
        add.setAttribute('data-name', pupil.name);
        add.setAttribute('data-form', pupil.form);
        add.textContent = 'Add ' + pupil.name;
        add.addEventListener('click', function () { addPupil(form, add); });
        var where = document.createElement('span');
        where.className = 'muted';
        where.textContent = pupil.form;
        item.appendChild(add);
        item.appendChild(document.createTextNode(' '));
        item.appendChild(where);
        return item;
      });
    }, function () {
      found.textContent = 'Pupils cannot be found with no network; those ticked stay.';
    });
  }

  var addSearch = document.querySelector('input[data-add-search]');
  if (addSearch && addSearch.form) {
    var addTimer = null;
    addSearch.addEventListener('input', function () {
      clearTimeout(addTimer);
      addTimer = setTimeout(function () {
        if (addSearch.value.trim().length >= 2) findToAdd(addSearch.form);
      }, 200);
    });
  }

  // ---- the details form ------------------------------------------------------------------

  function londonNow() {
    try {
      var parts = {};
      new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', hourCycle: 'h23'
      }).formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
      return parts.year + '-' + parts.month + '-' + parts.day + 'T' + parts.hour + ':' + parts.minute;
    } catch (e) {
      return null;
    }
  }

  var when = document.querySelector('input[data-now-unless-changed]');
  if (when) {
    var changed = false;
    when.addEventListener('input', function () { changed = true; });
    setInterval(function () {
      var now = londonNow();
      if (!changed && now) when.value = now;
    }, 20000);
  }

  var behaviour = document.getElementById('behaviour');
  var severity = document.getElementById('severity');
  if (behaviour && severity) {
    var byHand = !!severity.querySelector('input:checked');
    severity.addEventListener('change', function () { byHand = true; });
    behaviour.addEventListener('change', function () {
      if (byHand) return;
      var option = behaviour.options[behaviour.selectedIndex];
      var serious = option && option.hasAttribute('data-serious');
      var radio = severity.querySelector('input[value="' + (serious ? 'serious' : 'minor') + '"]');
      if (radio) radio.checked = true;
    });
  }

  // Print buttons (the provision maps): the page's security policy allows no inline script.
  document.addEventListener('click', function (event) {
    var target = event.target;
    if (target && target.closest && target.closest('[data-print]')) window.print();
  });

  if (navigator.serviceWorker) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(function () {
      /* not offered here (a plain http address other than this machine): online only */
    });
  }

  // A search box marked data-filters="ID" (a meeting's staff) hides, as you type, the
  // choices inside #ID whose data-name does not match, and opens #ID; without this script
  // its Find button asks Steadfast for the list again.
  document.addEventListener('input', function (event) {
    var box = event.target;
    if (!box || !box.getAttribute || !box.getAttribute('data-filters')) return;
    var list = document.getElementById(box.getAttribute('data-filters'));
    if (!list) return;
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    list.querySelectorAll('[data-name]').forEach(function (choice) {
      var name = choice.getAttribute('data-name').toLowerCase().split(/\s+/);
      choice.hidden = !words.every(function (w) {
        return name.some(function (n) { return n.indexOf(w) === 0; });
      });
    });
    if (words.length) list.open = true;
  });

  flush(); // anything left from before, on every page load
})();
