/**
 * Who is asking: the front proxy's client certificate, then the user its
 * request headers name (front-proxy.ts). TLS checks the client certificate
 * once, at the handshake, against the CA bound when the connection was
 * accepted. That proves the client holds the key; whether the certificate
 * chains to the front-proxy CA of *now* is checked here, per connection and
 * again whenever the CA changed (a rotated-out proxy certificate stops at
 * once, a still-trusted one keeps its connection). Dates are checked on
 * every request. Every refusal closes the connection: a client without the
 * certificate holds no idle connection.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { mintServingCert } from '../tls/serving-cert.js';
import { allowedProxy, userFromHeaders, type RequestHeaderConfig, type UserInfo } from './front-proxy.js';
import { HttpError } from './status-errors.js';

/** Every certificate of a PEM bundle; a block that does not parse is skipped (the handshake failed it already). */
const parseBundle = (pem: string): X509Certificate[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).flatMap((block) => {
    try {
      return [new X509Certificate(block)];
    } catch {
      return [];
    }
  });

export class FrontProxyAuthentication {
  // Without a front-proxy CA yet, a CA nobody holds the key of: never Node's default roots, which
  // would verify any publicly issued client certificate.
  private readonly nobodysCa = mintServingCert(['no-front-proxy-yet'], new Date()).caPem;
  /** The CA bundle handed to TLS for new connections. */
  private trusted: string;
  private trustedCas: X509Certificate[];
  private caGeneration = 0;
  private readonly verifiedWith = new WeakMap<TLSSocket, number>();

  constructor(
    private readonly frontProxy: () => RequestHeaderConfig | undefined,
    private readonly now: () => number,
  ) {
    this.trusted = frontProxy()?.ca ?? this.nobodysCa;
    this.trustedCas = parseBundle(this.trusted);
  }

  /** The front-proxy CA bundle (PEM) TLS should ask client certificates of. */
  get caPem(): string {
    return this.trusted;
  }

  /** Takes up the current front-proxy CA; connections verified with an older one are checked again. */
  refresh(): void {
    const ca = this.frontProxy()?.ca ?? this.nobodysCa;
    if (ca !== this.trusted) {
      this.trusted = ca;
      this.trustedCas = parseBundle(ca);
      this.caGeneration++;
    }
  }

  /** The user the front proxy names; throws a 401 HttpError (closing the connection) otherwise. */
  authenticate(req: IncomingMessage): UserInfo {
    const config = this.frontProxy();
    const socket = req.socket as TLSSocket;
    const unauthorized = new HttpError(401, 'Unauthorized', 'Unauthorized', { connection: 'close' });
    if (config === undefined || !socket.authorized) throw unauthorized;
    const peer = socket.getPeerX509Certificate();
    const at = this.now();
    if (peer === undefined || Date.parse(peer.validFrom) > at || Date.parse(peer.validTo) < at)
      throw unauthorized;
    if (this.verifiedWith.get(socket) !== this.caGeneration) {
      if (!this.trustedCas.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey)))
        throw unauthorized;
      this.verifiedWith.set(socket, this.caGeneration);
    }
    const cn = (socket.getPeerCertificate() as Partial<PeerCertificate>).subject?.CN;
    if (!allowedProxy(config, typeof cn === 'string' ? cn : undefined)) throw unauthorized;
    const user = userFromHeaders(config, req.headersDistinct);
    if (user === undefined) throw unauthorized;
    return user;
  }
}
