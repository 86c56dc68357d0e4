import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ResolvedMtlsOptions } from '../options/sender-constraint-options.js';

/** base64url SHA-256 of a certificate's DER: the `x5t#S256` of RFC 8705 §3.1. */
function thumbprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}

/**
 * The thumbprint of the client certificate of a request, or `undefined` when it has none:
 * - with `header`, the URL-encoded PEM that a TLS-terminating proxy put there (nginx
 *   `$ssl_client_escaped_cert`, AWS ALB `X-Amzn-Mtls-Clientcert`); anything that is not
 *   exactly one certificate counts as none;
 * - otherwise the peer certificate of the request's own TLS connection. Its chain need not be
 *   trusted: the TLS handshake proved that the client holds the certificate's key, and that is
 *   what the binding is about (RFC 8705 §2.2 allows self-signed client certificates).
 */
export function clientCertificateThumbprint(
  raw: IncomingMessage,
  header: string | undefined,
): string | undefined {
  if (header !== undefined) {
    const value = raw.headers[header];
    if (typeof value !== 'string' || value.length === 0) return undefined;
    try {
      const pem = decodeURIComponent(value);
      // Exactly one certificate: X509Certificate would silently take the first of several.
      if (pem.indexOf('-----BEGIN') !== pem.lastIndexOf('-----BEGIN')) return undefined;
      return thumbprint(new X509Certificate(pem).raw);
    } catch {
      return undefined;
    }
  }
  const socket = raw.socket as Partial<TLSSocket> | undefined;
  if (typeof socket?.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate();
  // An empty object when the client sent no certificate.
  return peer && Buffer.isBuffer(peer.raw) ? thumbprint(peer.raw) : undefined;
}

/**
 * A request's certificate thumbprint, read lazily (only a certificate-bound token asks), or
 * `undefined` when `mtls` is off.
 */
export function certificateReader(
  raw: IncomingMessage,
  mtls: ResolvedMtlsOptions | undefined,
): (() => string | undefined) | undefined {
  return mtls ? () => clientCertificateThumbprint(raw, mtls.certificateHeader) : undefined;
}
