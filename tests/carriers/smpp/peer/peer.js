'use strict';
// A real SMPP 3.4 server (the npm package "smpp", pinned in package.json) on loopback, scripted
// over a small JSON HTTP control API, for smsbridge's SMPP carrier tests. See README.md.
//
//   node peer.js [--exit-on-stdin-eof]
//
// Listens on 127.0.0.1:$PORT (SMPP, default 0 = any free port) and 127.0.0.1:$CONTROL_PORT
// (HTTP, default 0), then prints exactly one line on stdout: "READY smpp=<port> control=<port>".
// PEER_DEBUG=1 logs every PDU on stderr.

const http = require('http');
const smpp = require('smpp');

const HOST = '127.0.0.1';
const DEBUG = process.env.PEER_DEBUG === '1';
const SMSC_SYSTEM_ID = 'smsbridge-peer';
const FIRST_MESSAGE_ID = 0xabc001; // hex "abc001" vs decimal "11255809": never ambiguous

// The library decodes short_message / message_payload into {message: <text>, udh: [...]}, lossily
// (unknown GSM bytes become spaces). The peer deals in raw bytes: drop those filters so the
// fields stay Buffers on the way in and are written as given on the way out.
// Likewise schedule_delivery_time / validity_period stay the strings the ESME sent, not Dates.
for (const name of Object.keys(smpp.commands)) {
  const params = smpp.commands[name].params || {};
  for (const field of ['short_message', 'schedule_delivery_time', 'validity_period']) {
    if (params[field]) params[field] = { type: params[field].type };
  }
}
delete smpp.tlvs.message_payload.filter;

// ---------------------------------------------------------------------------------------------
// Configuration and records

function defaultConfig() {
  return {
    password: null, // when a string: binds with another password get ESME_RINVPASWD (0x0E)
    bind_fail: false, // true: every bind gets ESME_RBINDFAIL (0x0D)
    id_format: 'hex', // message_id in submit_sm_resp: "hex" (lowercase) | "decimal" | "padded"
    receipt_id_format: 'hex', // the id inside receipts (text and receipted_message_id TLV)
    next_message_id: FIRST_MESSAGE_ID, // the counter; the next accepted submit gets this id
    throttle_next: 0, // answer the next N submits with ESME_RTHROTTLED (0x58)
    queue_full_next: 0, // answer the next N submits with ESME_RMSGQFUL (0x14)
    fail_next: 0, // answer the next N submits with fail_status
    fail_status: 0x0b, // ESME_RINVDSTADR
    drop_after_submits: 0, // N > 0: destroy the socket on the N-th submit, without answering
    response_delay_ms: 0, // delay every submit_sm_resp
    receipts: true, // send delivery receipts when registered_delivery asks for them
    receipt_delay_ms: 50,
    receipt_before_response: false, // write the receipt before that submit's submit_sm_resp
    outcome_by_destination: {}, // {"447700900001": "UNDELIV"}; default "DELIVRD"
    // Refuse what real SMSCs refuse (see strictRefusal); false lets anything through.
    strict: true,
    expect_receipts: true, // strict: a submit without registered_delivery gets 0x07
    fail_by_destination: {}, // {"447700900999": 8}: every submit to it gets that status
    // N > 0: the N-th submit from now is stored (its receipt is sent once the ESME binds
    // again) and then every session is destroyed before it is answered, as when an SMSC
    // restarts between taking a message and answering it.
    crash_after_submits: 0,
    garbage_response_next: 0, // answer the next N submits 0 with a body that does not decode
  };
}

const STATES = {
  ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8,
};

let config = defaultConfig();
let submitsSinceDropConfig = 0;
let submitsSinceCrashConfig = 0;
let generation = 0; // bumped by /reset: timers of an older generation send no receipts
let records;
let nextSessionId = 1;
const sessions = new Set(); // every open session (bound or not)
const pendingReceipts = []; // receipts whose ESME had no receiving session bound: sent on bind

function resetRecords() {
  records = {
    binds: [],
    submits: [],
    deliver_resps: [],
    delivers: [],
    enquire_links: 0,
    unbind_resps: [],
    errors: [],
    max_in_flight: 0,
  };
  for (const s of sessions) {
    if (s.bind) records.binds.push(s.bind);
  }
}
resetRecords();

function log(...args) {
  if (DEBUG) console.error('[peer]', ...args);
}

function formatId(n, format) {
  switch (format) {
    case 'decimal':
      return String(n);
    case 'padded':
      return String(n).padStart(10, '0');
    default:
      return n.toString(16);
  }
}

function smppDate(d) {
  const p = (v) => String(v).padStart(2, '0');
  return (
    p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) +
    p(d.getUTCHours()) + p(d.getUTCMinutes())
  );
}

// Concatenation info from a UDH: IE 0x00 (8-bit reference) or 0x08 (16-bit reference).
function parseUdh(buf) {
  if (!buf.length || buf[0] + 1 > buf.length) return null;
  const udh = buf.subarray(1, buf[0] + 1);
  for (let i = 0; i + 1 < udh.length; ) {
    const iei = udh[i];
    const len = udh[i + 1];
    const ie = udh.subarray(i + 2, i + 2 + len);
    if (iei === 0x00 && len === 3) return { ref: ie[0], total: ie[1], seq: ie[2], ref_bits: 8 };
    if (iei === 0x08 && len === 4) {
      return { ref: ie.readUInt16BE(0), total: ie[2], seq: ie[3], ref_bits: 16 };
    }
    i += 2 + len;
  }
  return null;
}

// The first 20 characters of the message text, as printable ASCII (for the receipt's text:).
function receiptText(submit, raw) {
  let body = raw;
  if (submit.esm_class & 0x40 && raw.length) body = raw.subarray(Math.min(raw[0] + 1, raw.length));
  let text;
  const dc = submit.data_coding & 0xff;
  if (dc === 0x08) text = smpp.encodings.UCS2.decode(body);
  else if (dc === 0x00) text = smpp.gsmCoder.decode(body, 0);
  else text = body.toString('latin1');
  return text.slice(0, 20).replace(/[^\x20-\x7e]/g, '?');
}

// ---------------------------------------------------------------------------------------------
// Sessions

function receivingSession(systemId) {
  let fallback = null;
  for (const s of sessions) {
    if (!s.bind || !s.bind.open || (systemId != null && s.bind.system_id !== systemId)) continue;
    if (s.bind.mode === 'receiver') return s;
    if (s.bind.mode === 'transceiver' && !fallback) fallback = s;
  }
  return fallback;
}

function sendDeliver(session, options, record, done) {
  const pdu = new smpp.PDU('deliver_sm', options);
  // send() returns false (and never calls back) when the socket is no longer writable.
  if (!session.send(pdu, null, () => done && done())) return null;
  // Like a real SMSC, a deliver_sm stays ours until the ESME answers it: if the session ends
  // first (the ESME rebinds, or dies), it is delivered again on the ESME's next bind.
  session.unanswered.set(pdu.sequence_number, {
    system_id: session.bind ? session.bind.system_id : null, options, record, generation,
  });
  Object.assign(record, {
    sequence: pdu.sequence_number,
    session: session.peerId,
    system_id: session.bind ? session.bind.system_id : null,
    time: new Date().toISOString(),
  });
  records.delivers.push(record);
  log('deliver_sm', JSON.stringify(record));
  return pdu.sequence_number;
}

function buildReceipt(submit, stat) {
  const id = formatId(submit.message_id_num, config.receipt_id_format);
  const delivered = stat === 'DELIVRD';
  const err = delivered || stat === 'ACCEPTD' || stat === 'ENROUTE' ? '000' : '001';
  const text =
    `id:${id} sub:001 dlvrd:${delivered ? '001' : '000'} ` +
    `submit date:${smppDate(new Date(submit.time))} done date:${smppDate(new Date())} ` +
    `stat:${stat} err:${err} text:${submit.text20}`;
  return {
    options: {
      source_addr_ton: submit.dest_addr_ton,
      source_addr_npi: submit.dest_addr_npi,
      source_addr: submit.destination_addr,
      dest_addr_ton: submit.source_addr_ton,
      dest_addr_npi: submit.source_addr_npi,
      destination_addr: submit.source_addr,
      esm_class: 0x04,
      data_coding: 0,
      short_message: Buffer.from(text, 'ascii'),
      receipted_message_id: id,
      message_state: STATES[stat] || STATES.UNKNOWN,
    },
    record: {
      kind: 'receipt', message_id: id, stat, destination: submit.source_addr,
      short_message_text: text,
    },
  };
}

// Sends (or queues) the receipt of a submit; calls done() once written or queued.
function sendReceipt(session, submit, done) {
  const stat = config.outcome_by_destination[submit.destination_addr] || 'DELIVRD';
  const { options, record } = buildReceipt(submit, stat);
  const target =
    session.bind && session.bind.open && session.bind.mode === 'transceiver'
      ? session
      : receivingSession(submit.system_id);
  if (target && sendDeliver(target, options, record, done) != null) return;
  pendingReceipts.push({ system_id: submit.system_id, options, record });
  log('receipt queued for', submit.system_id);
  if (done) done();
}

function flushPendingReceipts(session) {
  for (let i = 0; i < pendingReceipts.length; ) {
    const p = pendingReceipts[i];
    if (p.system_id === session.bind.system_id) {
      pendingReceipts.splice(i, 1);
      sendDeliver(session, p.options, p.record);
    } else {
      i += 1;
    }
  }
}

// The deliver_sm a closed session never answered go back in the queue, oldest first, and out
// at once if the same ESME has another receiving session bound.
function requeueUnanswered(session) {
  // What was sent before a /reset belongs to an earlier test: it is forgotten, not resent.
  const unanswered = [...session.unanswered.values()].filter((p) => p.generation === generation);
  session.unanswered.clear();
  if (!unanswered.length) return;
  pendingReceipts.unshift(...unanswered);
  log('requeued', unanswered.length, 'unanswered deliver_sm of session', session.peerId);
  const systemIds = new Set(unanswered.map((p) => p.system_id));
  for (const systemId of systemIds) {
    const target = receivingSession(systemId);
    if (target) flushPendingReceipts(target);
  }
}

const BIND_MODES = {
  bind_transmitter: 'transmitter',
  bind_receiver: 'receiver',
  bind_transceiver: 'transceiver',
};

function onBind(session, pdu) {
  const mode = BIND_MODES[pdu.command];
  let status = 0;
  if (session.bind && session.bind.open) status = smpp.ESME_RALYBND;
  else if (config.bind_fail) status = smpp.ESME_RBINDFAIL;
  else if (config.password != null && pdu.password !== config.password) {
    status = smpp.ESME_RINVPASWD;
  }
  log(pdu.command, pdu.system_id, 'status', status);
  if (status === smpp.ESME_RALYBND) {
    session.send(pdu.response({ command_status: status }));
    return;
  }
  const bind = {
    session: session.peerId, system_id: pdu.system_id, mode, open: status === 0,
    status, time: new Date().toISOString(),
  };
  records.binds.push(bind);
  if (status) {
    session.send(pdu.response({ command_status: status }), () => session.close());
    return;
  }
  session.bind = bind;
  session.send(pdu.response({ system_id: SMSC_SYSTEM_ID, sc_interface_version: 0x34 }));
  if (mode !== 'transmitter') flushPendingReceipts(session);
}

function respondSubmit(session, pdu, submit, status) {
  const options = { command_status: status };
  if (status === 0) options.message_id = submit.message_id;
  const writeResp = (after) => {
    session.inFlight = Math.max(0, session.inFlight - 1);
    session.send(pdu.response(options), () => {
      submit.responded = true;
      submit.response_time = new Date().toISOString();
      if (after) after();
    });
  };
  const respond = (after) => {
    const delay = config.response_delay_ms;
    if (delay > 0) setTimeout(() => writeResp(after), delay);
    else writeResp(after);
  };
  const rd = submit.registered_delivery & 0x03; // 1: always; 2: on failure only
  const stat = config.outcome_by_destination[submit.destination_addr] || 'DELIVRD';
  const wantsReceipt =
    status === 0 && config.receipts && (rd === 1 || (rd === 2 && stat !== 'DELIVRD'));
  if (!wantsReceipt) {
    respond();
    return;
  }
  const gen = generation;
  const receiptDelay = config.receipt_delay_ms;
  if (config.receipt_before_response) {
    setTimeout(() => {
      if (gen === generation) sendReceipt(session, submit, () => respond());
      else respond();
    }, receiptDelay);
    return;
  }
  respond(() =>
    setTimeout(() => {
      if (gen === generation) sendReceipt(session, submit);
    }, receiptDelay),
  );
}

// SMPP 3.4 section 7.1.1: "YYMMDDhhmmsstnnp", p "+"/"-" (absolute, nn quarter hours from UTC)
// or "R" (relative, then t and nn are 0).
function validTime(value) {
  if (value === '' || value == null) return true;
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d)(\d{2})([+\-R])$/.exec(value);
  if (!m) return false;
  const [, , mo, dd, hh, mi, ss, t, nn, p] = m;
  if (p === 'R') return t === '0' && nn === '00' && +mo < 12 && +hh < 24 && +mi < 60 && +ss < 60;
  return +mo >= 1 && +mo <= 12 && +dd >= 1 && +dd <= 31 && +hh < 24 && +mi < 60 && +ss < 60 && +nn <= 48;
}

// What a real SMSC refuses that a lenient one (or our own code) might let through: the status
// to answer with, or 0.
function strictRefusal(submit) {
  if (!config.strict) return 0;
  const src = submit.source_addr;
  if (submit.source_addr_ton === 5) {
    // Alphanumeric: at most 11 GSM characters, and a number is not a name.
    if (/^\+?\d+$/.test(src)) return smpp.ESME_RINVSRCTON;
    if (src.length > 11 || !/^[\x20-\x7e]+$/.test(src)) return smpp.ESME_RINVSRCADR;
  } else if (submit.source_addr_ton === 1 || submit.source_addr_ton === 2) {
    if (!/^\d{4,15}$/.test(src)) return smpp.ESME_RINVSRCADR;
  } else if (submit.source_addr_ton === 3) {
    if (!/^\d{3,8}$/.test(src)) return smpp.ESME_RINVSRCADR;
  }
  if (submit.dest_addr_ton === 5) return smpp.ESME_RINVDSTTON;
  if (!/^\d{4,15}$/.test(submit.destination_addr)) return smpp.ESME_RINVDSTADR;
  if (config.expect_receipts && (submit.registered_delivery & 0x03) === 0) {
    return smpp.ESME_RINVREGDLVFLG;
  }
  if (!validTime(submit.validity_period)) return smpp.ESME_RINVEXPIRY;
  if (!validTime(submit.schedule_delivery_time)) return smpp.ESME_RINVSCHED;
  return 0;
}

function onSubmit(session, pdu) {
  if (!session.bind || !session.bind.open || session.bind.mode === 'receiver') {
    session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
    return;
  }
  const raw = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
  const submit = {
    session: session.peerId,
    system_id: session.bind.system_id,
    sequence: pdu.sequence_number,
    source_addr_ton: pdu.source_addr_ton,
    source_addr_npi: pdu.source_addr_npi,
    source_addr: pdu.source_addr,
    dest_addr_ton: pdu.dest_addr_ton,
    dest_addr_npi: pdu.dest_addr_npi,
    destination_addr: pdu.destination_addr,
    service_type: pdu.service_type,
    esm_class: pdu.esm_class,
    protocol_id: pdu.protocol_id,
    priority_flag: pdu.priority_flag,
    schedule_delivery_time: pdu.schedule_delivery_time,
    validity_period: pdu.validity_period,
    data_coding: pdu.data_coding,
    registered_delivery: pdu.registered_delivery,
    short_message: raw.toString('hex'),
    message_payload: Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload.toString('hex') : null,
    udh: pdu.esm_class & 0x40 ? parseUdh(raw) : null,
    sar:
      pdu.sar_msg_ref_num !== undefined ||
      pdu.sar_total_segments !== undefined ||
      pdu.sar_segment_seqnum !== undefined
        ? { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum }
        : null,
    user_message_reference: pdu.user_message_reference === undefined ? null : pdu.user_message_reference,
    message_id: null,
    message_id_num: null,
    status: null,
    dropped: false,
    responded: false,
    time: new Date().toISOString(),
  };
  submit.text20 = receiptText(submit, raw.length ? raw : pdu.message_payload || raw);
  records.submits.push(submit);

  if (config.drop_after_submits > 0) {
    submitsSinceDropConfig += 1;
    if (submitsSinceDropConfig >= config.drop_after_submits) {
      config.drop_after_submits = 0;
      submitsSinceDropConfig = 0;
      submit.dropped = true;
      log('drop_after_submits: destroying session', session.peerId);
      session.destroy();
      return;
    }
  }

  if (config.crash_after_submits > 0) {
    submitsSinceCrashConfig += 1;
    if (submitsSinceCrashConfig >= config.crash_after_submits) {
      config.crash_after_submits = 0;
      submitsSinceCrashConfig = 0;
      // Stored: it gets an id and its receipt waits for the ESME's next bind.
      submit.message_id_num = config.next_message_id;
      config.next_message_id += 1;
      submit.message_id = formatId(submit.message_id_num, config.id_format);
      submit.status = 0;
      submit.crashed = true;
      const stat = config.outcome_by_destination[submit.destination_addr] || 'DELIVRD';
      const { options, record } = buildReceipt(submit, stat);
      pendingReceipts.push({ system_id: submit.system_id, options, record });
      log('crash_after_submits: stored', submit.message_id, 'and destroying every session');
      for (const s of [...sessions]) s.destroy();
      return;
    }
  }

  session.inFlight += 1;
  records.max_in_flight = Math.max(records.max_in_flight, session.inFlight);
  let status = strictRefusal(submit);
  const alwaysFail = config.fail_by_destination[submit.destination_addr];
  if (status) {
    submit.refused = 'strict';
  } else if (alwaysFail) {
    status = alwaysFail;
  } else if (config.throttle_next > 0) {
    config.throttle_next -= 1;
    status = smpp.ESME_RTHROTTLED;
  } else if (config.queue_full_next > 0) {
    config.queue_full_next -= 1;
    status = smpp.ESME_RMSGQFUL;
  } else if (config.fail_next > 0) {
    config.fail_next -= 1;
    status = config.fail_status;
  } else {
    submit.message_id_num = config.next_message_id;
    config.next_message_id += 1;
    submit.message_id = formatId(submit.message_id_num, config.id_format);
  }
  submit.status = status;
  log('submit_sm', submit.sequence, submit.destination_addr, 'status', status, submit.message_id);
  if (status === 0 && config.garbage_response_next > 0) {
    config.garbage_response_next -= 1;
    submit.garbage_response = true;
    // A submit_sm_resp whose message_id never ends (no NUL): the ESME cannot read the id,
    // though the message is stored and its receipt will come.
    const body = Buffer.from('ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'hex');
    const header = Buffer.alloc(16);
    header.writeUInt32BE(16 + body.length, 0);
    header.writeUInt32BE(0x80000004, 4);
    header.writeUInt32BE(0, 8);
    header.writeUInt32BE(pdu.sequence_number, 12);
    session.inFlight = Math.max(0, session.inFlight - 1);
    session.socket.write(Buffer.concat([header, body]));
    submit.responded = true;
    setTimeout(() => sendReceipt(session, submit), config.receipt_delay_ms);
    return;
  }
  respondSubmit(session, pdu, submit, status);
}

const server = smpp.createServer((session) => {
  session.peerId = nextSessionId++;
  session.bind = null;
  session.inFlight = 0;
  session.unanswered = new Map(); // deliver_sm sequence -> what to send again if unanswered
  sessions.add(session);
  log('session', session.peerId, 'connected');

  session.on('pdu', (pdu) => log('<-', session.peerId, pdu.command, pdu.sequence_number));
  for (const command of Object.keys(BIND_MODES)) {
    session.on(command, (pdu) => onBind(session, pdu));
  }
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
  session.on('enquire_link', (pdu) => {
    records.enquire_links += 1;
    session.send(pdu.response());
  });
  session.on('unbind', (pdu) => {
    // An ESME that asked to unbind gets no new deliver_sm on this session.
    if (session.bind) session.bind.open = false;
    session.send(pdu.response(), () => session.close());
  });
  session.on('unbind_resp', (pdu) => {
    records.unbind_resps.push({ session: session.peerId, status: pdu.command_status });
    session.close();
  });
  session.on('deliver_sm_resp', (pdu) => {
    session.unanswered.delete(pdu.sequence_number);
    const sent = records.delivers.find(
      (d) => d.session === session.peerId && d.sequence === pdu.sequence_number,
    );
    records.deliver_resps.push({
      session: session.peerId,
      system_id: session.bind ? session.bind.system_id : null,
      sequence: pdu.sequence_number,
      status: pdu.command_status,
      kind: sent ? sent.kind : null,
      message_id: sent ? sent.message_id || null : null,
      time: new Date().toISOString(),
    });
  });
  session.on('enquire_link_resp', () => {});
  session.on('generic_nack', (pdu) => {
    records.errors.push({ session: session.peerId, error: 'generic_nack', status: pdu.command_status });
  });
  session.on('unknown', (pdu) => session.send(pdu.response()));
  session.on('error', (err) => {
    // The library stops reading a session after a PDU it cannot parse: end that session.
    records.errors.push({ session: session.peerId, error: String(err && err.message) });
    log('session', session.peerId, 'error', err && err.message);
    session.destroy();
  });
  session.on('close', () => {
    sessions.delete(session);
    if (session.bind) {
      session.bind.open = false;
      session.bind.closed_time = new Date().toISOString();
    }
    requeueUnanswered(session);
    log('session', session.peerId, 'closed');
  });
});
server.on('error', (err) => {
  console.error('[peer] SMPP server error:', err);
  process.exit(1);
});

// ---------------------------------------------------------------------------------------------
// Control HTTP API

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function applyConfig(patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    throw new HttpError(400, 'config must be a JSON object');
  }
  const defaults = defaultConfig();
  for (const [key, value] of Object.entries(patch)) {
    if (!(key in defaults)) throw new HttpError(400, `unknown config key: ${key}`);
    const kind = typeof defaults[key];
    if (key === 'password') {
      if (value !== null && typeof value !== 'string') throw new HttpError(400, 'password: string or null');
    } else if (key === 'fail_by_destination') {
      if (value === null || typeof value !== 'object') throw new HttpError(400, `${key}: object`);
      for (const status of Object.values(value)) {
        if (!Number.isInteger(status) || status <= 0) throw new HttpError(400, `${key}: statuses > 0`);
      }
    } else if (key === 'outcome_by_destination') {
      if (value === null || typeof value !== 'object') throw new HttpError(400, `${key}: object`);
      for (const stat of Object.values(value)) {
        if (!(stat in STATES)) throw new HttpError(400, `unknown stat ${stat}; one of ${Object.keys(STATES)}`);
      }
    } else if (key.endsWith('_format')) {
      if (!['hex', 'decimal', 'padded'].includes(value)) {
        throw new HttpError(400, `${key}: "hex", "decimal" or "padded"`);
      }
    } else if (typeof value !== kind) {
      throw new HttpError(400, `${key}: expected ${kind}`);
    }
  }
  Object.assign(config, patch);
  if ('drop_after_submits' in patch) submitsSinceDropConfig = 0;
  if ('crash_after_submits' in patch) submitsSinceCrashConfig = 0;
  return config;
}

function publicState() {
  return {
    binds: records.binds,
    submits: records.submits.map(({ text20, ...rest }) => rest),
    delivers: records.delivers,
    deliver_resps: records.deliver_resps,
    unbind_resps: records.unbind_resps,
    enquire_links: records.enquire_links,
    max_in_flight: records.max_in_flight,
    pending_receipts: pendingReceipts.map((p) => p.record),
    errors: records.errors,
    open_sessions: [...sessions].map((s) => ({
      session: s.peerId,
      system_id: s.bind && s.bind.open ? s.bind.system_id : null,
      mode: s.bind && s.bind.open ? s.bind.mode : null,
      in_flight: s.inFlight,
    })),
    config,
  };
}

const TON_NPI_KEYS = ['source_addr_ton', 'source_addr_npi', 'dest_addr_ton', 'dest_addr_npi'];

function deliverInbound(body) {
  const { source, destination, parts, order } = body;
  if (typeof source !== 'string' || typeof destination !== 'string') {
    throw new HttpError(400, 'source and destination: strings');
  }
  if (!Array.isArray(parts) || parts.length === 0) throw new HttpError(400, 'parts: non-empty list');
  const indices = order == null ? parts.map((_, i) => i) : order;
  if (!Array.isArray(indices) || indices.some((i) => !Number.isInteger(i) || !parts[i])) {
    throw new HttpError(400, 'order: a list of part indices');
  }
  const session = receivingSession(body.system_id == null ? null : body.system_id);
  if (!session) throw new HttpError(409, 'no bound receiver or transceiver session');
  const pdus = indices.map((i) => {
    const part = parts[i];
    const sm = Buffer.from(part.short_message_hex || '', 'hex');
    if (sm.length > 254) throw new HttpError(400, `part ${i}: short_message over 254 octets`);
    const options = {
      source_addr_ton: 1, source_addr_npi: 1, dest_addr_ton: 1, dest_addr_npi: 1,
      source_addr: source,
      destination_addr: destination,
      esm_class: part.esm_class || 0,
      data_coding: part.data_coding || 0,
      short_message: sm,
    };
    for (const key of TON_NPI_KEYS) if (key in body) options[key] = body[key];
    if (part.message_payload_hex) options.message_payload = Buffer.from(part.message_payload_hex, 'hex');
    for (const [tag, value] of Object.entries(part.tlvs || {})) {
      if (!(tag in smpp.tlvs)) throw new HttpError(400, `part ${i}: unknown TLV ${tag}`);
      options[tag] = value;
    }
    return { index: i, options };
  });
  const sequences = pdus.map(({ index, options }) =>
    sendDeliver(session, options, {
      kind: 'mo', part: index, source, destination, short_message: options.short_message.toString('hex'),
    }),
  );
  return { session: session.peerId, system_id: session.bind.system_id, sequences };
}

function route(method, path, body) {
  if (method === 'GET' && path === '/state') return publicState();
  if (method === 'POST' && path === '/config') return applyConfig(body || {});
  if (method === 'POST' && path === '/reset') {
    generation += 1;
    config = defaultConfig();
    submitsSinceDropConfig = 0;
    submitsSinceCrashConfig = 0;
    pendingReceipts.length = 0;
    for (const s of sessions) s.unanswered.clear();
    resetRecords();
    return { ok: true };
  }
  if (method === 'POST' && path === '/deliver') return deliverInbound(body || {});
  if (method === 'POST' && path === '/raw') {
    // Write octets as they are to the receiving session: garbage, half PDUs, anything.
    const session = receivingSession(body && body.system_id != null ? body.system_id : null);
    if (!session) throw new HttpError(409, 'no bound receiver or transceiver session');
    if (!body || typeof body.hex !== 'string') throw new HttpError(400, 'hex: a string');
    session.socket.write(Buffer.from(body.hex, 'hex'));
    records.delivers.push({ kind: 'raw', hex: body.hex, session: session.peerId });
    return { session: session.peerId };
  }
  if (method === 'POST' && path === '/drop') {
    const dropped = [...sessions].map((s) => s.peerId);
    for (const s of [...sessions]) s.destroy();
    return { dropped };
  }
  if (method === 'POST' && path === '/unbind') {
    const sent = [];
    for (const s of sessions) if (s.bind && s.bind.open && s.unbind()) sent.push(s.peerId);
    return { sent };
  }
  if (method === 'POST' && path === '/enquire_link') {
    const sent = [];
    for (const s of sessions) if (s.bind && s.bind.open && s.enquire_link()) sent.push(s.peerId);
    return { sent };
  }
  throw new HttpError(404, `no route ${method} ${path}`);
}

const control = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let status = 200;
    let result;
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = null;
      if (text.trim()) {
        try {
          body = JSON.parse(text);
        } catch (e) {
          throw new HttpError(400, `bad JSON: ${e.message}`);
        }
      }
      result = route(req.method, req.url.split('?')[0], body);
    } catch (e) {
      status = e instanceof HttpError ? e.status : 500;
      result = { error: e.message };
      if (status === 500) console.error('[peer] control error:', e);
    }
    const payload = JSON.stringify(result);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
    });
    res.end(payload);
  });
});

// ---------------------------------------------------------------------------------------------
// Start

if (process.argv.includes('--exit-on-stdin-eof')) {
  // The parent test process keeps our stdin open: when it goes away, so do we (no orphans).
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));

server.listen(Number(process.env.PORT || 0), HOST, () => {
  control.listen(Number(process.env.CONTROL_PORT || 0), HOST, () => {
    process.stdout.write(`READY smpp=${server.address().port} control=${control.address().port}\n`);
  });
});
