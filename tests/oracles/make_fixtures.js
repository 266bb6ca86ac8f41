#!/usr/bin/env node
/*
 * Builds the fixtures in tests/data/wildboar/ with the *independent encoder* (@wildboar/x400
 * 1.0.6 encoders `_encode_X(value, BER)`), so that our codec is tested against BER that it did
 * not produce itself. Deterministic: fixed times, fixed identifiers; rerun with
 *
 *     node tests/oracles/make_fixtures.js            (from the repository root)
 *
 * For every fixture it writes NAME.ber (raw BER) and NAME.json:
 *     {"type": <decode.js type name>, "description": "...",
 *      "summary": {plain, human-readable facts about the value},
 *      "wildboar": <decode.js normalised decoding of NAME.ber>}
 *
 * Avoided / worked around encoder bugs of the library (ASN1-NOTES):
 *   - tagged open types are written IMPLICIT: ExtensionAttribute.extension-attribute-value is
 *     `[1] EXPLICIT ANY`; we hand it a constructed wrapper element whose only child is the real
 *     value, so that the implicit re-tagging yields exactly the EXPLICIT encoding (see explicit()).
 *   - no extension fields / IPMS extensions with values are used (open-type SET/SEQUENCE values
 *     are dropped by the DEFAULT comparison).
 *   - ContentType extended would be written as RELATIVE-OID: only built-in content types here.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const asn1 = require('asn1-ts');
const $ = require('asn1-ts/dist/node/functional');
const oracle = require('./decode.js');

oracle.setup();
const M = oracle.MODULES_DIR;
const OUT = path.resolve(__dirname, '..', 'data', 'wildboar');

function enc(modType, value) {
    const [mod, type] = modType.split('/');
    const fn = require(`${M}/${mod}/${type}.ta.js`)[`_encode_${type.replace(/-/g, '_')}`];
    return fn(value, $.BER);
}
function bytes(el) {
    return Buffer.from(el.toBytes());
}

// -- small builders -----------------------------------------------------------------------------

const t61 = (s) => new Uint8Array(Buffer.from(s, 'latin1')); // ASCII subset of T.61 is identical
const bits = (s) => new Uint8ClampedArray(Array.from(s, (c) => (c === '1' ? 1 : 0)));
const oid = (s) => asn1.ObjectIdentifier.fromString(s);
const time = (s) => new Date(s);

/* ExtensionAttribute value is [1] EXPLICIT ANY; the library re-tags the given element
 * IMPLICITly, so give it a constructed wrapper holding the real value. */
function explicit(inner) {
    const w = new asn1.BERElement(asn1.ASN1TagClass.universal, asn1.ASN1Construction.constructed,
        asn1.ASN1UniversalType.sequence);
    w.sequence = [inner];
    return w;
}
function printable(s) {
    const e = new asn1.BERElement(asn1.ASN1TagClass.universal, asn1.ASN1Construction.primitive,
        asn1.ASN1UniversalType.printableString);
    e.printableString = s;
    return e;
}
function teletexElement(u8) {
    const e = new asn1.BERElement(asn1.ASN1TagClass.universal, asn1.ASN1Construction.primitive,
        asn1.ASN1UniversalType.teletexString);
    e.value = u8;
    return e;
}
function integer(n) {
    const e = new asn1.BERElement(asn1.ASN1TagClass.universal, asn1.ASN1Construction.primitive,
        asn1.ASN1UniversalType.integer);
    e.integer = n;
    return e;
}
function generalString(s) {
    const e = new asn1.BERElement(asn1.ASN1TagClass.universal, asn1.ASN1Construction.primitive,
        asn1.ASN1UniversalType.generalString);
    e.generalString = s;
    return e;
}
function ctxPrimitive(n, u8) {
    const e = new asn1.BERElement(asn1.ASN1TagClass.context, asn1.ASN1Construction.primitive, n);
    e.value = u8;
    return e;
}
function setOf(children) {
    const e = new asn1.BERElement(asn1.ASN1TagClass.universal, asn1.ASN1Construction.constructed,
        asn1.ASN1UniversalType.set);
    e.sequence = children;
    return e;
}

function country(c) {
    return /^[0-9]+$/.test(c) ? { x121_dcc_code: c } : { iso_3166_alpha2_code: c };
}
function gdi(c, admd, prmd) {
    return {
        country_name: country(c),
        administration_domain_name: { printable: admd },
        private_domain_identifier: prmd === undefined ? undefined : { printable: prmd },
    };
}
function standard({ C, A, P, O, OU, S, G, I, Q }) {
    return {
        country_name: C === undefined ? undefined : country(C),
        administration_domain_name: A === undefined ? undefined : { printable: A },
        private_domain_name: P === undefined ? undefined : { printable: P },
        organization_name: O,
        personal_name: S === undefined ? undefined
            : { surname: S, given_name: G, initials: I, generation_qualifier: Q },
        organizational_unit_names: OU,
    };
}
function orname(attrs, dda, ext) {
    return {
        built_in_standard_attributes: standard(attrs),
        built_in_domain_defined_attributes: dda && dda.map(([t, v]) => ({ type_: t, value: v })),
        extension_attributes: ext,
    };
}
function ordesc(attrs, freeForm) {
    return { formal_name: orname(attrs), free_form_name: freeForm && t61(freeForm) };
}
function recip(attrs, freeForm, notif, reply) {
    return {
        recipient: ordesc(attrs, freeForm),
        notification_requests: notif === undefined ? undefined : bits(notif),
        reply_requested: reply,
    };
}

// -- values --------------------------------------------------------------------------------------

const JOHN = { C: 'GB', A: 'BT', P: 'Example', O: 'Example Corp', OU: ['Sales', 'EMEA'],
    S: 'Smith', G: 'John', I: 'J', Q: 'III' };
const ALICE = { C: 'GB', A: 'BT', P: 'Example', O: 'Example Corp', S: 'Jones', G: 'Alice' };
const BOB = { C: 'DE', A: 'VIAT', P: 'Firma', O: 'Firma GmbH', S: 'Mueller', G: 'Bob' };
const CAROL = { C: 'US', A: ' ', P: 'Acme', O: 'Acme Inc', S: 'Carol' };

const fixtures = [];
function add(name, type, description, summary, el) {
    fixtures.push({ name, type, description, summary, ber: bytes(el) });
}

// 1. ORName with standard attributes, DDAs and extension attributes
{
    // T.61: 0xc8 0x75 = u with diaeresis (non-spacing diaeresis followed by the base letter)
    const mueller = new Uint8Array([0x4d, 0xc8, 0x75, 0x6c, 0x6c, 0x65, 0x72]);
    const tpn = setOf([ctxPrimitive(0, mueller), ctxPrimitive(1, t61('Juergen'))]);
    const value = orname(JOHN, [['RFC-822', 'john(a)example.com'], ['ID', '12345']], [
        // common-name (1), PrintableString
        { extension_attribute_type: 1, extension_attribute_value: explicit(printable('John Smith')) },
        // teletex-common-name (2), TeletexString
        { extension_attribute_type: 2, extension_attribute_value: explicit(teletexElement(t61('J. Smith'))) },
        // teletex-personal-name (4), SET {[0] surname, [1] given-name}
        { extension_attribute_type: 4, extension_attribute_value: explicit(tpn) },
    ]);
    add('orname_full', 'ORName',
        'ORName: C/ADMD/PRMD/O/2 OUs/full personal name, two DDAs, extension attributes ' +
        'common-name, teletex-common-name and teletex-personal-name (T.61 surname 4d c8 75 6c 6c 65 72 = "Müller")',
        {
            C: 'GB', ADMD: 'BT', PRMD: 'Example', O: 'Example Corp', OU: ['Sales', 'EMEA'],
            S: 'Smith', G: 'John', I: 'J', Q: 'III',
            DDA: { 'RFC-822': 'john(a)example.com', ID: '12345' },
            'common-name': 'John Smith',
            'teletex-common-name': 'J. Smith',
            'teletex-personal-name': { surname_t61_hex: '4dc8756c6c6572', surname: 'Müller', given_name: 'Juergen' },
        },
        enc('MTSAbstractService/ORName', value));
}

// 2. ORName minimal, numeric country code, blank ADMD
add('orname_minimal', 'ORName',
    'ORName with X.121 country code 234, ADMD " " (single space), O and surname only',
    { C: '234', ADMD: ' ', O: 'Minimal Ltd', S: 'Doe' },
    enc('MTSAbstractService/ORName', orname({ C: '234', A: ' ', O: 'Minimal Ltd', S: 'Doe' })));

// 3. IPM with most heading fields, IA5 and teletex body parts
const IPM_ID = { user: orname(JOHN), user_relative_identifier: '20240501.0001' };
const ipmFull = {
    ipm: {
        heading: {
            this_IPM: IPM_ID,
            originator: ordesc(JOHN, 'John Smith'),
            primary_recipients: [
                recip(ALICE, 'Alice Jones', '11', true), // rn + nrn requested
                recip(BOB, undefined),
            ],
            copy_recipients: [recip(CAROL, 'Carol')],
            replied_to_IPM: { user: orname(ALICE), user_relative_identifier: 'ALICE-42' },
            subject: t61('Quarterly report'),
            expiry_time: time('2024-06-30T23:59:59Z'),
            importance: 2, // high
            sensitivity: 3, // company-confidential
            auto_forwarded: true,
        },
        body: [
            { basic: { ia5_text: { parameters: { repertoire: 5 }, data: 'Hello Alice,\r\n\r\nsee the figures below.\r\n' } } },
            { basic: { teletex: { parameters: {}, data: [t61('Page one'), t61('Page two')] } } },
        ],
    },
};
add('ipm_full', 'InformationObject',
    'IPM: this-IPM, originator, 2 primary + 1 copy recipients, replied-to-IPM, subject, ' +
    'expiry-time, importance high, sensitivity company-confidential, auto-forwarded; ' +
    'body: ia5-text + teletex (2 pages)',
    {
        this_IPM: { user: 'C=GB;A=BT;P=Example;O=Example Corp;OU=Sales;OU=EMEA;S=Smith;G=John;I=J;Q=III', id: '20240501.0001' },
        originator: { C: 'GB', ADMD: 'BT', PRMD: 'Example', O: 'Example Corp', S: 'Smith', G: 'John', free_form_name: 'John Smith' },
        primary_recipients: [
            { S: 'Jones', G: 'Alice', C: 'GB', free_form_name: 'Alice Jones', notification_requests: 'rn,nrn', reply_requested: true },
            { S: 'Mueller', G: 'Bob', C: 'DE', ADMD: 'VIAT', PRMD: 'Firma', O: 'Firma GmbH' },
        ],
        copy_recipients: [{ S: 'Carol', C: 'US', ADMD: ' ', PRMD: 'Acme', O: 'Acme Inc', free_form_name: 'Carol' }],
        replied_to_IPM: { id: 'ALICE-42', S: 'Jones' },
        subject: 'Quarterly report',
        expiry_time: '2024-06-30T23:59:59Z',
        importance: 'high',
        sensitivity: 'company-confidential',
        auto_forwarded: true,
        body: [
            { type: 'ia5-text', repertoire: 'ia5', text: 'Hello Alice,\r\n\r\nsee the figures below.\r\n' },
            { type: 'teletex', pages: ['Page one', 'Page two'] },
        ],
    },
    enc('IPMSInformationObjects/InformationObject', ipmFull));
const IPM_FULL_BER = fixtures[fixtures.length - 1].ber;

// 4. IPM minimal
add('ipm_minimal', 'InformationObject',
    'IPM with only this-IPM (no user) and one ia5-text body part (repertoire default)',
    { this_IPM: { id: 'MIN-1' }, body: [{ type: 'ia5-text', text: 'Hi' }] },
    enc('IPMSInformationObjects/InformationObject', {
        ipm: {
            heading: { this_IPM: { user_relative_identifier: 'MIN-1' } },
            body: [{ basic: { ia5_text: { parameters: {}, data: 'Hi' } } }],
        },
    }));

// 4b. IPM with an extended body part: general-text (X.420 id-ep-general-text / id-et-general-text)
add('ipm_general_text', 'InformationObject',
    'IPM with one extended body part general-text: parameters (INSTANCE OF, [0] IMPLICIT) ' +
    'id-ep-general-text 2.6.1.11.11 = SET OF CharacterSetRegistration {1, 6} (ISO 646 C0 + ASCII G0), ' +
    'data id-et-general-text 2.6.1.4.11 = GeneralString',
    {
        this_IPM: { id: 'GT-1' },
        body: [{ type: 'general-text', parameters_oid: '2.6.1.11.11', character_sets: [1, 6],
            data_oid: '2.6.1.4.11', text: 'Hello general text' }],
    },
    enc('IPMSInformationObjects/InformationObject', {
        ipm: {
            heading: { this_IPM: { user_relative_identifier: 'GT-1' } },
            body: [{
                extended: {
                    parameters: new asn1.External(oid('2.6.1.11.11'), undefined, undefined,
                        setOf([integer(1), integer(6)])),
                    data: new asn1.External(oid('2.6.1.4.11'), undefined, undefined,
                        generalString('Hello general text')),
                },
            }],
        },
    }));

// 5. IPN receipt notification
add('ipn_receipt', 'InformationObject',
    'IPN receipt notification for ipm_full: subject-ipm, ipn-originator, ipm-intended-recipient, ' +
    'receipt-time, acknowledgment-mode manual',
    {
        subject_ipm: { id: '20240501.0001', S: 'Smith' },
        ipn_originator: { S: 'Jones', G: 'Alice' },
        ipm_intended_recipient: { S: 'Jones', G: 'Alice' },
        receipt_time: '2024-05-01T13:14:15Z',
        acknowledgment_mode: 'manual',
    },
    enc('IPMSInformationObjects/InformationObject', {
        ipn: {
            subject_ipm: IPM_ID,
            ipn_originator: ordesc(ALICE, 'Alice Jones'),
            ipm_intended_recipient: ordesc(ALICE),
            choice: { receipt_fields: { receipt_time: time('2024-05-01T13:14:15Z'), acknowledgment_mode: 0 } },
        },
    }));

// 6. IPN non-receipt notification
add('ipn_nonreceipt', 'InformationObject',
    'IPN non-receipt notification: non-receipt-reason ipm-discarded, discard-reason ipm-expired',
    {
        subject_ipm: { id: '20240501.0001', S: 'Smith' },
        non_receipt_reason: 'ipm-discarded',
        discard_reason: 'ipm-expired',
    },
    enc('IPMSInformationObjects/InformationObject', {
        ipn: {
            subject_ipm: IPM_ID,
            choice: { non_receipt_fields: { non_receipt_reason: 0, discard_reason: 0 } },
        },
    }));

// 7. MTS-APDU Message with a full envelope, content = ipm_full
const MSG_ID = { global_domain_identifier: gdi('GB', 'BT', 'Example'), local_identifier: 'MSG-0001' };
const trace = [{
    global_domain_identifier: gdi('GB', 'BT', 'Example'),
    domain_supplied_information: { arrival_time: time('2024-05-01T12:00:01Z'), routing_action: 0 },
}];
add('mts_message', 'MTS-APDU',
    'MTS-APDU message: envelope with message-identifier, originator-name, original EITs ' +
    '(ia5-text), content-type built-in 22, priority urgent, per-message-indicators, ' +
    'deferred-delivery-time, trace-information, two recipients; content = ipm_full.ber',
    {
        message_identifier: { C: 'GB', ADMD: 'BT', PRMD: 'Example', local: 'MSG-0001' },
        originator: { C: 'GB', ADMD: 'BT', PRMD: 'Example', O: 'Example Corp', S: 'Smith', G: 'John' },
        original_eits: 'ia5-text',
        content_type: 22,
        priority: 'urgent',
        per_message_indicators: 'alternate-recipient-allowed,content-return-request',
        deferred_delivery_time: '2024-05-01T18:00:00Z',
        trace: [{ C: 'GB', ADMD: 'BT', PRMD: 'Example', arrival_time: '2024-05-01T12:00:01Z', routing_action: 'relayed' }],
        recipients: [
            { number: 1, S: 'Jones', G: 'Alice', per_recipient_indicators: '11111000' },
            { number: 2, S: 'Mueller', G: 'Bob', per_recipient_indicators: '10101000' },
        ],
        content: 'ipm_full.ber',
    },
    enc('MTSTransferProtocol/MTS-APDU', {
        message: {
            envelope: {
                message_identifier: MSG_ID,
                originator_name: orname(JOHN),
                // BuiltInEncodedInformationTypes: bit 2 = ia5-text
                original_encoded_information_types: { built_in_encoded_information_types: bits('001') },
                content_type: { built_in: 22 },
                priority: 2,
                // bit 0 disclosure-of-other-recipients, 1 implicit-conversion-prohibited,
                // 2 alternate-recipient-allowed, 3 content-return-request
                per_message_indicators: bits('0011'),
                deferred_delivery_time: time('2024-05-01T18:00:00Z'),
                trace_information: trace,
                per_recipient_fields: [
                    {
                        recipient_name: orname(ALICE),
                        originally_specified_recipient_number: 1,
                        // responsibility; originating-MTA-report-request "report" (bits 1+2);
                        // originator-report-request "report" (bits 3+4)
                        per_recipient_indicators: bits('11111000'),
                    },
                    {
                        recipient_name: orname(BOB),
                        originally_specified_recipient_number: 2,
                        // responsibility; both reports "non-delivery-report" (bits 2 and 4)
                        per_recipient_indicators: bits('10101000'),
                    },
                ],
            },
            content: new Uint8Array(IPM_FULL_BER),
        },
    }));

// 8. MTS-APDU Report: one delivery + one non-delivery per-recipient field
add('mts_report', 'MTS-APDU',
    'MTS-APDU report on MSG-0001: delivered to Alice, not delivered to Bob ' +
    '(reason unable-to-transfer, diagnostic unrecognised-ORName)',
    {
        report_identifier: { C: 'GB', ADMD: 'BT', PRMD: 'Example', local: 'RPT-0001' },
        report_destination: { S: 'Smith', G: 'John' },
        subject_identifier: 'MSG-0001',
        content_type: 22,
        recipients: [
            { S: 'Jones', number: 1, delivery_time: '2024-05-01T12:00:05Z', type_of_MTS_user: 'public' },
            { S: 'Mueller', number: 2, non_delivery_reason: 'unable-to-transfer', diagnostic: 'unrecognised-ORName' },
        ],
    },
    enc('MTSTransferProtocol/MTS-APDU', {
        report: {
            envelope: {
                report_identifier: { global_domain_identifier: gdi('GB', 'BT', 'Example'), local_identifier: 'RPT-0001' },
                report_destination_name: orname(JOHN),
                trace_information: trace,
            },
            content: {
                subject_identifier: MSG_ID,
                original_encoded_information_types: { built_in_encoded_information_types: bits('001') },
                content_type: { built_in: 22 },
                content_identifier: 'CID-7',
                per_recipient_fields: [
                    {
                        actual_recipient_name: orname(ALICE),
                        originally_specified_recipient_number: 1,
                        per_recipient_indicators: bits('11111000'),
                        last_trace_information: {
                            arrival_time: time('2024-05-01T12:00:03Z'),
                            report_type: { delivery: { message_delivery_time: time('2024-05-01T12:00:05Z'), type_of_MTS_user: 0 } },
                        },
                    },
                    {
                        actual_recipient_name: orname(BOB),
                        originally_specified_recipient_number: 2,
                        per_recipient_indicators: bits('10101000'),
                        last_trace_information: {
                            arrival_time: time('2024-05-01T12:00:04Z'),
                            report_type: { non_delivery: { non_delivery_reason_code: 1, non_delivery_diagnostic_code: 0 } },
                        },
                        supplementary_information: 'no route to DE',
                    },
                ],
            },
        },
    }));

// 9. MTS-APDU Probe
add('mts_probe', 'MTS-APDU',
    'MTS-APDU probe: probe-identifier, originator, content-type 22, content-length 4096, one recipient',
    {
        probe_identifier: { C: 'GB', ADMD: 'BT', PRMD: 'Example', local: 'PRB-0001' },
        originator: { S: 'Smith', G: 'John' },
        content_type: 22,
        content_length: 4096,
        recipients: [{ number: 1, S: 'Carol' }],
    },
    enc('MTSTransferProtocol/MTS-APDU', {
        probe: {
            probe_identifier: { global_domain_identifier: gdi('GB', 'BT', 'Example'), local_identifier: 'PRB-0001' },
            originator_name: orname(JOHN),
            content_type: { built_in: 22 },
            content_length: 4096,
            trace_information: trace,
            per_recipient_fields: [{
                recipient_name: orname(CAROL),
                originally_specified_recipient_number: 1,
                per_recipient_indicators: bits('10000000'),
            }],
        },
    }));

// -- write ---------------------------------------------------------------------------------------

fs.mkdirSync(OUT, { recursive: true });
let failed = false;
for (const f of fixtures) {
    const decoded = oracle.decode(f.type, f.ber);
    if (decoded.unrecognized.length) {
        console.error(`${f.name}: unrecognized elements ${JSON.stringify(decoded.unrecognized)}`);
        failed = true;
    }
    fs.writeFileSync(path.join(OUT, `${f.name}.ber`), f.ber);
    const doc = { type: f.type, description: f.description, summary: f.summary, wildboar: decoded.value };
    fs.writeFileSync(path.join(OUT, `${f.name}.json`), JSON.stringify(doc, null, 1) + '\n');
    console.log(`${f.name}: ${f.ber.length} bytes`);
}
process.exitCode = failed ? 1 : 0;
