#!/usr/bin/env node
/*
 * Independent X.400 decoder oracle for x400bridge tests: @wildboar/x400 (1.0.6) + asn1-ts.
 *
 * Usage
 *   node decode.js TYPE FILE...      one JSON line per FILE (raw BER bytes)
 *   node decode.js --serve           one JSON request per stdin line, one JSON reply line each:
 *       request  {"type": "MTS-APDU", "hex": "6082..."[, "id": anything]}
 *       reply    {"value": <normalised value>, "unrecognized": [{"ber": "..."}, ...][, "id": ...]}
 *             or {"error": "message"[, "id": ...]}
 *   node decode.js --types           list the short type names
 *
 * TYPE is a short name (MTS-APDU, Message, Report, Probe, MessageTransferEnvelope,
 * InformationObject, IPM, IPN, Heading, Body, ORName, ORAddress, GeneralTextParameters,
 * GeneralTextData, FileTransferParameters, FileTransferData, ...: see SHORT_NAMES) or a generic
 * "Module/Type" of @wildboar/x400 (e.g. "MTSAbstractService/ExtensionField",
 * "IPMSHeadingExtensions/IncompleteCopy").
 *
 * The whole input must be exactly one BER element (fromBytes() must consume every byte),
 * otherwise the reply is an error.
 *
 * JSON conventions of the normalised value
 *   SEQUENCE / SET      object keyed by the library's JS property names: ASN.1 identifiers with
 *                       '-' written '_' (e.g. "this_IPM", "message_identifier"); absent OPTIONAL
 *                       components are omitted; DEFAULT components the library fills in appear
 *                       with their default value (e.g. "priority": 0). A non-empty
 *                       "_unrecognizedExtensionsList" is kept (list of {"ber"}).
 *   CHOICE              {"alternative_name": value}   (names as in the library, '-' -> '_')
 *   SEQUENCE OF/SET OF  list
 *   INTEGER/ENUMERATED  number (a bigint outside the safe range becomes a decimal string)
 *   BOOLEAN             true/false;   NULL -> null
 *   OCTET STRING and TeletexString/VideotexString/T61String (library gives bytes)
 *                       {"hex": "c875..."}
 *   other strings       JSON string (PrintableString, IA5String, NumericString, BMPString...)
 *   BIT STRING          string of '0'/'1' characters, one per bit, e.g. "1010"
 *   OBJECT IDENTIFIER   dotted string "2.6.1.10.1"; RELATIVE-OID likewise
 *   UTCTime / GeneralizedTime
 *                       ISO-8601 UTC string ending in Z, e.g. "2024-05-01T12:34:56Z"
 *                       (".sss" milliseconds only when not zero)
 *   open type / ANY / unknown element (raw ASN1Element)
 *                       {"ber": "<hex of the element's full encoding, tag+length+value>"}
 *                       NB: for a "[n] EXPLICIT ANY" field (ExtensionAttribute value,
 *                       ExtensionField value, IPMSExtension value) the library keeps the [n]
 *                       element itself: common-name -> {"ber": "a10c130a4a6f686e..."}; the
 *                       bytes are as received (an indefinite length stays indefinite)
 *   EXTERNAL / INSTANCE OF
 *                       {"external": {"direct_reference": "1.2.3", "indirect_reference": n,
 *                         "data_value_descriptor": "...",
 *                         "encoding": {"single_ASN1_type": {"ber": ".."}} |
 *                                     {"octet_aligned": {"hex": ".."}} | {"arbitrary": "0101"}}}
 *                       (absent references omitted)
 *   "unrecognized" in the reply lists every SET/SEQUENCE element the library did not recognise
 *   (it otherwise silently ignores them), as {"ber": hex}.
 *
 * Patches applied at start-up (to the library's known bugs, see /work/shared/ASN1-NOTES.md):
 *   (1) untagged CHOICE members of SETs (content-type, attempted, initiator-name, ...) have a
 *       match-anything selector, so every later element of the SET is taken for them
 *       ("SET ... contained more than one 'content-type' component"). Their ComponentSpec selector
 *       is replaced by one matching the CHOICE's real alternative tags (table CHOICE_TAGS), or,
 *       for a CHOICE not in the table, by "not matched by any other component of this SET".
 *   (4) ContentType: the library follows the 1999 text (extended = RELATIVE-OID); the
 *       1988/92 OBJECT IDENTIFIER form that real MTAs send is accepted too and decodes to
 *       {"extended": "dotted.oid"} as well.
 *   plus: unrecognised SET/SEQUENCE elements are collected (see "unrecognized").
 *   plus: tag checks the library lacks (it decodes any element with any primitive decoder):
 *       an element of class UNIVERSAL must carry the universal tag of the type it is decoded
 *       as (OCTET STRING 4, TeletexString 20, SET 17, SEQUENCE OF 16, ...), and an ORName
 *       must be [APPLICATION 0]. Implicitly tagged elements are otherwise not checked beyond
 *       the library's own SET/SEQUENCE/CHOICE selectors.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const asn1 = require('asn1-ts');
const $ = require('asn1-ts/dist/node/functional');

const MODULES_DIR = path.dirname(require.resolve('@wildboar/x400/package.json')) + '/src/lib/modules';

const SHORT_NAMES = {
    'MTS-APDU': 'MTSTransferProtocol/MTS-APDU',
    Message: 'MTAAbstractService/Message',
    Report: 'MTAAbstractService/Report',
    Probe: 'MTAAbstractService/Probe',
    MessageTransferEnvelope: 'MTAAbstractService/MessageTransferEnvelope',
    ProbeTransferEnvelope: 'MTAAbstractService/ProbeTransferEnvelope',
    ReportTransferEnvelope: 'MTAAbstractService/ReportTransferEnvelope',
    ReportTransferContent: 'MTAAbstractService/ReportTransferContent',
    TraceInformation: 'MTAAbstractService/TraceInformation',
    InformationObject: 'IPMSInformationObjects/InformationObject',
    IPM: 'IPMSInformationObjects/IPM',
    IPN: 'IPMSInformationObjects/IPN',
    Heading: 'IPMSInformationObjects/Heading',
    Body: 'IPMSInformationObjects/Body',
    BodyPart: 'IPMSInformationObjects/BodyPart',
    ORName: 'MTSAbstractService/ORName',
    ORAddress: 'MTSAbstractService/ORAddress',
    ORAddressAndOrDirectoryName: 'MTSAbstractService/ORAddressAndOrDirectoryName',
    ExtensionField: 'MTSAbstractService/ExtensionField',
    ExtensionAttribute: 'MTSAbstractService/ExtensionAttribute',
    GeneralTextParameters: 'IPMSExtendedBodyPartTypes2/GeneralTextParameters',
    GeneralTextData: 'IPMSExtendedBodyPartTypes2/GeneralTextData',
    FileTransferParameters: 'IPMSFileTransferBodyPartType/FileTransferParameters',
    FileTransferData: 'IPMSFileTransferBodyPartType/FileTransferData',
};

// Real alternative tags of the untagged CHOICEs that sit inside SETs, by component name.
const U = asn1.ASN1TagClass.universal;
const A = asn1.ASN1TagClass.application;
const C = asn1.ASN1TagClass.context;
const CHOICE_TAGS = {
    // ContentType: built-in [APPLICATION 6]; extended RELATIVE-OID (1999) or OID (1988/92)
    'content-type': [[A, 6], [U, 13], [U, 6]],
    // MTASuppliedInformation.attempted: mta MTAName (IA5String), domain GlobalDomainIdentifier
    attempted: [[U, 22], [A, 3]],
    // ObjectName: user-agent [APPLICATION 0], mTA [0], message-store [4]
    'initiator-name': [[A, 0], [C, 0], [C, 4]],
    'responder-name': [[A, 0], [C, 0], [C, 4]],
    // UniversalOrBMPString.character-encoding: BMPString / UniversalString
    'character-encoding': [[U, 30], [U, 28]],
    // OtherMessageDeliveryFields.content-type is a DeliveredContentType: built-in [0]
    'OtherMessageDeliveryFields.content-type': [[C, 0], [U, 13], [U, 6]],
};

// ---------------------------------------------------------------------------------------------
// Patches

const unrecognizedSink = [];
function collector(handler) {
    return (e) => {
        unrecognizedSink.push(e);
        if (typeof handler === 'function') handler(e);
    };
}
const origParseSet = $._parse_set;
$._parse_set = function (set, cbs, r1, ext, r2, handler, max) {
    return origParseSet(set, cbs, r1, ext, r2, collector(handler), max);
};
const origParseSequence = $._parse_sequence;
$._parse_sequence = function (seq, cbs, r1, ext, r2, handler) {
    return origParseSequence(seq, cbs, r1, ext, r2, collector(handler));
};

// The library never checks the tag of what it decodes with a primitive decoder (a [UNIVERSAL 12]
// UTF8String where an OCTET STRING belongs, a PrintableString for a TeletexString, any tag on the
// outermost element...). Add the check where it is possible without knowing the context: an
// element of class UNIVERSAL must carry the universal tag of the type being decoded (elements
// of other classes are implicitly tagged; their tags are checked by the SET/SEQUENCE/CHOICE
// selectors, or not at all - e.g. the outermost tag of a type like ORName [APPLICATION 0]).
const UT = asn1.ASN1UniversalType;
const UNIVERSAL_OF = {
    _decodeBoolean: UT.boolean, _decodeInteger: UT.integer, _decodeBigInt: UT.integer,
    _decodeBitString: UT.bitString, _decodeOctetString: UT.octetString, _decodeNull: UT.nill,
    _decodeObjectIdentifier: UT.objectIdentifier, _decodeObjectDescriptor: UT.objectDescriptor,
    _decodeExternal: UT.external, _decodeInstanceOf: UT.external, _decodeReal: UT.realNumber,
    _decodeEnumerated: UT.enumerated, _decodeUTF8String: UT.utf8String,
    _decodeRelativeOID: UT.relativeOID, _decodeSequence: UT.sequence, _decodeSet: UT.set,
    _decodeNumericString: UT.numericString, _decodePrintableString: UT.printableString,
    _decodeTeletexString: UT.teletexString, _decodeT61String: UT.teletexString,
    _decodeVideotexString: UT.videotexString, _decodeIA5String: UT.ia5String,
    _decodeUTCTime: UT.utcTime, _decodeGeneralizedTime: UT.generalizedTime,
    _decodeGraphicString: UT.graphicString, _decodeVisibleString: UT.visibleString,
    _decodeISO646String: UT.visibleString, _decodeGeneralString: UT.generalString,
    _decodeUniversalString: UT.universalString, _decodeBMPString: UT.bmpString,
};
function checkUniversal(el, expected, what) {
    if (el.tagClass === U && el.tagNumber !== expected) {
        throw new Error(`${what}: expected UNIVERSAL ${expected} but found UNIVERSAL ${el.tagNumber}`);
    }
}
for (const [name, num] of Object.entries(UNIVERSAL_OF)) {
    const orig = $[name];
    if (typeof orig !== 'function' || num === undefined) continue;
    $[name] = (el) => {
        checkUniversal(el, num, name.slice(7));
        return orig(el);
    };
}
for (const [name, num] of [['_decodeSequenceOf', UT.sequence], ['_decodeSetOf', UT.set]]) {
    const orig = $[name];
    $[name] = function (...args) {
        const inner = orig(...args);
        return (el) => {
            checkUniversal(el, num, name.slice(7));
            return inner(el);
        };
    };
}
$._parse_set = ((prev) => function (set, ...rest) {
    checkUniversal(set, UT.set, 'SET');
    return prev(set, ...rest);
})($._parse_set);
$._parse_sequence = ((prev) => function (seq, ...rest) {
    checkUniversal(seq, UT.sequence, 'SEQUENCE');
    return prev(seq, ...rest);
})($._parse_sequence);

function tagsSelector(tags) {
    return (index, elements) => {
        const el = elements[index];
        return tags.some(([cls, num]) => el.tagClass === cls && el.tagNumber === num);
    };
}

const patchedModules = new Set();
const SPEC_RE = /^_(root_component_type_list_1|root_component_type_list_2|extension_additions_list)_spec_for_(.+)$/;

function patchLoadedModules() {
    for (const file of Object.keys(require.cache)) {
        if (!file.startsWith(MODULES_DIR) || !file.endsWith('.ta.js') || patchedModules.has(file)) continue;
        patchedModules.add(file);
        const mod = require.cache[file].exports;
        const groups = {};
        for (const key of Object.keys(mod)) {
            const m = SPEC_RE.exec(key);
            if (!m || !Array.isArray(mod[key])) continue;
            // (entries can be undefined in this library when circular requires spread arrays
            // that were not yet defined)
            const specs = mod[key].filter((s) => s && typeof s.selector === 'function');
            (groups[m[2]] = groups[m[2]] || []).push(...specs);
        }
        if (Object.keys(groups).length === 0) continue;
        const src = fs.readFileSync(file, 'utf8');
        for (const [typeName, specs] of Object.entries(groups)) {
            if (!src.includes(`_parse_set(el, callbacks, exports._root_component_type_list_1_spec_for_${typeName},`)) {
                continue;
            }
            const anyTag = specs.filter((s) => s.selector === $.hasAnyTag);
            if (anyTag.length === 0) continue;
            const others = specs.filter((s) => s.selector !== $.hasAnyTag).map((s) => s.selector);
            for (const spec of anyTag) {
                const tags = CHOICE_TAGS[`${typeName}.${spec.name}`] || CHOICE_TAGS[spec.name];
                if (tags) {
                    spec.selector = tagsSelector(tags);
                } else if (anyTag.length === 1) {
                    spec.selector = (i, els) => !others.some((sel) => sel(i, els));
                }
                // else: several untagged CHOICEs in one SET and not in the table: left alone
            }
        }
    }
}

// (4) ContentType accepts OBJECT IDENTIFIER for "extended"
function patchContentType() {
    const ct = require(`${MODULES_DIR}/MTSAbstractService/ContentType.ta.js`);
    const orig = ct._decode_ContentType;
    ct._decode_ContentType = function (el) {
        if (el.tagClass === U && el.tagNumber === asn1.ASN1UniversalType.objectIdentifier) {
            return { extended: el.objectIdentifier };
        }
        return orig(el);
    };
}

// ---------------------------------------------------------------------------------------------
// Type lookup

const decoderCache = new Map();
function getDecoder(typeName) {
    if (decoderCache.has(typeName)) return decoderCache.get(typeName);
    const full = SHORT_NAMES[typeName] || typeName;
    const m = /^([A-Za-z0-9-]+)\/([A-Za-z0-9-]+)$/.exec(full);
    if (!m) throw new Error(`unknown type ${JSON.stringify(typeName)} (use a short name or Module/Type)`);
    const file = `${MODULES_DIR}/${m[1]}/${m[2]}.ta.js`;
    if (!fs.existsSync(file)) throw new Error(`no such type: ${full}`);
    const mod = require(file);
    const fn = mod[`_decode_${m[2].replace(/-/g, '_')}`];
    if (typeof fn !== 'function') throw new Error(`no decoder in ${full}`);
    patchLoadedModules();
    decoderCache.set(typeName, fn);
    return fn;
}

// ---------------------------------------------------------------------------------------------
// Normalisation

function hex(bytes) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function isoTime(d) {
    if (isNaN(d.getTime())) return 'Invalid Date';
    const s = d.toISOString();
    return s.endsWith('.000Z') ? s.slice(0, -5) + 'Z' : s;
}

function norm(v) {
    if (v === undefined) return undefined;
    if (v === null) return null;
    switch (typeof v) {
        case 'boolean':
        case 'string':
            return v;
        case 'number':
            return v;
        case 'bigint':
            return (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER))
                ? Number(v) : v.toString();
        case 'function':
        case 'symbol':
            return undefined;
        default:
            break;
    }
    if (v instanceof asn1.ASN1Element) return { ber: hex(v.toBytes()) };
    if (v instanceof asn1.ObjectIdentifier) return v.dotDelimitedNotation;
    if (v instanceof Uint8ClampedArray) return Array.from(v, (b) => (b ? '1' : '0')).join('');
    if (v instanceof Uint8Array) return { hex: hex(v) };
    if (v instanceof Date) return isoTime(v);
    if (v instanceof asn1.External) {
        const ext = {};
        if (v.directReference !== undefined) ext.direct_reference = norm(v.directReference);
        if (v.indirectReference !== undefined) ext.indirect_reference = norm(v.indirectReference);
        if (v.dataValueDescriptor !== undefined) ext.data_value_descriptor = norm(v.dataValueDescriptor);
        const enc = v.encoding;
        if (enc instanceof asn1.ASN1Element) ext.encoding = { single_ASN1_type: norm(enc) };
        else if (enc instanceof Uint8ClampedArray) ext.encoding = { arbitrary: norm(enc) };
        else ext.encoding = { octet_aligned: norm(enc) };
        return { external: ext };
    }
    if (Array.isArray(v)) return v.map((x) => { const n = norm(x); return n === undefined ? null : n; });
    if (typeof v === 'object') {
        const out = {};
        for (const key of Object.keys(v)) {
            if (key === '_unrecognizedExtensionsList' && (!v[key] || v[key].length === 0)) continue;
            const n = norm(v[key]);
            if (n !== undefined) out[key] = n;
        }
        return out;
    }
    return String(v);
}

// ---------------------------------------------------------------------------------------------

// Outermost tags of the short-name types whose own tag the library would not check
const OUTER_TAGS = { ORName: [A, 0], 'MTSAbstractService/ORName': [A, 0] };

function decode(typeName, buf) {
    const fn = getDecoder(typeName);
    const el = new asn1.BERElement();
    const n = el.fromBytes(buf);
    if (n !== buf.length) {
        throw new Error(`BER element is ${n} bytes but the input has ${buf.length} (trailing data)`);
    }
    const outer = OUTER_TAGS[typeName];
    if (outer && !(el.tagClass === outer[0] && el.tagNumber === outer[1])) {
        throw new Error(`${typeName}: wrong outermost tag (class ${el.tagClass}, number ${el.tagNumber})`);
    }
    unrecognizedSink.length = 0;
    const value = fn(el);
    const unrecognized = unrecognizedSink.map((e) => norm(e));
    unrecognizedSink.length = 0;
    return { value: norm(value), unrecognized };
}

function handle(line) {
    let req;
    try {
        req = JSON.parse(line);
    } catch (e) {
        return { error: `bad request JSON: ${e.message}` };
    }
    const reply = {};
    try {
        if (!req || typeof req.type !== 'string' || typeof req.hex !== 'string') {
            throw new Error('request needs "type" and "hex" strings');
        }
        if (!/^([0-9a-fA-F]{2})*$/.test(req.hex)) throw new Error('"hex" is not an even-length hex string');
        Object.assign(reply, decode(req.type, Buffer.from(req.hex, 'hex')));
    } catch (e) {
        reply.error = (e && e.message) ? `${e.constructor && e.constructor.name}: ${e.message}` : String(e);
    }
    if (req && req.id !== undefined) reply.id = req.id;
    return reply;
}

let setUpDone = false;
function setup() {
    if (setUpDone) return;
    setUpDone = true;
    patchContentType();
    for (const name of ['MTS-APDU', 'InformationObject', 'ORName']) getDecoder(name);
}

function main(argv) {
    setup();
    if (argv[0] === '--types') {
        console.log(Object.keys(SHORT_NAMES).join('\n'));
        return 0;
    }
    if (argv[0] === '--serve') {
        const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
        rl.on('line', (line) => {
            if (line.trim() === '') return;
            let out;
            try {
                out = JSON.stringify(handle(line));
            } catch (e) {
                out = JSON.stringify({ error: `internal: ${e && e.message}` });
            }
            process.stdout.write(out + '\n');
        });
        rl.on('close', () => process.exit(0));
        return undefined;
    }
    if (argv.length < 2) {
        process.stderr.write('usage: node decode.js TYPE FILE... | --serve | --types\n');
        return 2;
    }
    const [typeName, ...files] = argv;
    let rc = 0;
    for (const f of files) {
        let reply;
        try {
            reply = handle(JSON.stringify({ type: typeName, hex: fs.readFileSync(f).toString('hex') }));
        } catch (e) {
            reply = { error: e.message };
        }
        if (reply.error) rc = 1;
        process.stdout.write(JSON.stringify(reply) + '\n');
    }
    return rc;
}

if (require.main === module) {
    const rc = main(process.argv.slice(2));
    if (rc !== undefined) process.exitCode = rc;
}

module.exports = { setup, decode, norm, getDecoder, MODULES_DIR, SHORT_NAMES };
