// `npm run seed -- --customers N [--institution <id>] [--database-url <url>] [--batch-size B]`
// fills one institution with N realistic customers, each with its wallet, written as the API would
// write them (same columns, same normalisation, database defaults for ids, statuses and times).
// It runs on DATABASE_URL (or --database-url), or else on the embedded database in DATA_DIR, whose
// lock it takes like the service does, so it refuses to run beside a running service.
// Without --institution it creates one and prints its owner's generated password, once.
// Also a library: bench/find-scale.ts seeds through the same functions.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { getExampleNumber, type CountryCode } from 'libphonenumber-js/max';
import mobileExamples from 'libphonenumber-js/mobile/examples';
import { DataDirLockedError, lockDataDir, type DataDirLock } from '../src/db/data-dir-lock.js';
import { openPglite, openPostgres, type Database, type Queryable } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { sealNewCustomer } from '../src/modules/customers/customer-sealing.js';
import type { CustomerFields } from '../src/modules/customers/customers.repository.js';
import { createInstitution } from '../src/modules/institutions/institutions.service.js';
import {
  dataDirEncryptionKey,
  decodeKey,
  localKeyProvider,
  type KeyProvider,
} from '../src/platform/crypto/key-provider.js';
import { openVault, type Vault } from '../src/platform/crypto/vault.js';
import { isAssignedCountryCode, toE164 } from '../src/platform/schema-keywords.js';

// ---------------------------------------------------------------------------------------------
// Names, by culture. Lists run from most to least common: picks follow a Zipf-like law, so a few
// names are frequent and most are rare, and a fullName search matches as many rows as it would
// in a real customer base. Underscores stand for spaces inside a name ("van_Dijk").

interface Culture {
  male: string[];
  female: string[];
  last: string[];
  /** The surname a woman bears, where the language inflects it (Kowalski → Kowalska). */
  feminine?: (surname: string) => string;
}

const words = (text: string) =>
  text
    .trim()
    .split(/\s+/)
    .map((word) => word.replace(/_/g, ' '));

const cultures = {
  ukrainian: {
    male: words(`Oleksandr Andrii Dmytro Serhii Volodymyr Mykola Ivan Yurii Oleh Vasyl Viktor Maksym Artem
      Bohdan Taras Roman Ihor Vitalii Denys Yevhen Pavlo Mykhailo Anatolii Vladyslav Nazar Kyrylo Danylo
      Ostap Stepan Petro Ruslan Valerii Hryhorii Yaroslav Oleksii Illia Matvii Tymofii Rostyslav Vadym`),
    female: words(`Olena Nataliia Iryna Tetiana Svitlana Oksana Yuliia Kateryna Mariia Anastasiia Olha
      Liudmyla Halyna Viktoriia Alina Daria Sofiia Khrystyna Anna Yana Valentyna Larysa Nadiia Zoriana
      Solomiia Inna Lesia Marta Uliana Veronika Polina Diana Karyna Vira Liubov`),
    last: words(`Shevchenko Kovalenko Bondarenko Tkachenko Kravchenko Melnyk Boiko Oliinyk Shevchuk Koval
      Polishchuk Bondar Tkachuk Marchenko Lysenko Rudenko Savchenko Petrenko Moroz Kravets Pavlenko
      Klymenko Levchenko Kharchenko Ponomarenko Savchuk Vasylenko Romanenko Ivanenko Kuzmenko Karpenko
      Honcharenko Hrytsenko Fedorenko Mazur Kushnir Sydorenko Prykhodko Symonenko Tarasenko Yakovenko
      Bilyk Zinchenko Martyniuk Lytvynenko Panchenko Kostenko Nazarenko Hnatiuk Kovalchuk Kovalskyi Zelenyi
      Bilyi Vovk Sokolenko Hordiienko Dmytrenko Kovtun Yurchenko Korol Ostapenko Demchenko Bilous
      Kolomiiets Zakharchenko Semeniuk Andriiets Voloshyn Holub Chornyi Horbatiuk Hrynchuk Stetsenko
      Ilchenko Ruban Lutsenko Osadchyi Babenko Stepanenko Kozak Hryshchenko Datsenko Mykhailenko Vlasenko
      Tymoshenko Protsenko Burlaka Sirenko Antonenko Verhun Dovzhenko Zahorodnii Hrebeniuk Horodetskyi
      Kalynovskyi Sosnovskyi Vyshnevskyi Lozynskyi Zaiets Kulyk Lukianenko Nesterenko Skliar Slobodian
      Trokhymenko Fesenko Chumak Shapoval Shvets Yatsenko`),
    // Adjectival surnames agree with the bearer: Kovalskyi → Kovalska, Zelenyi → Zelena.
    feminine: (surname) => (surname.endsWith('yi') ? `${surname.slice(0, -2)}a` : surname),
  },
  polish: {
    male: words(`Piotr Krzysztof Andrzej Tomasz Paweł Jan Michał Marcin Stanisław Jakub Adam Marek Łukasz
      Grzegorz Mateusz Wojciech Mariusz Dariusz Zbigniew Kamil Maciej Rafał Robert Sebastian Szymon Bartosz
      Przemysław Dawid Filip Jerzy`),
    female: words(`Anna Maria Katarzyna Małgorzata Agnieszka Barbara Ewa Krystyna Magdalena Elżbieta Joanna
      Aleksandra Monika Zofia Teresa Danuta Natalia Karolina Marta Beata Dorota Julia Justyna Paulina Halina
      Jadwiga Iwona Weronika Zuzanna Alicja`),
    last: words(`Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Woźniak
      Dąbrowski Kozłowski Jankowski Mazur Wojciechowski Kwiatkowski Krawczyk Kaczmarek Piotrowski Grabowski
      Zając Pawłowski Michalski Król Wieczorek Jabłoński Wróbel Nowakowski Majewski Olszewski Stępień
      Malinowski Jaworski Adamczyk Dudek Nowicki Pawlak Górski Witkowski Walczak Sikora Baran Rutkowski
      Michalak Szewczyk Ostrowski Tomaszewski Pietrzak Zalewski Wróblewski Marciniak Jasiński Zawadzki
      Sadowski Bąk Chmielewski Włodarczyk Borkowski Czarnecki Sawicki Sokołowski Urbański Kubiak
      Maciejewski Szczepański Kucharski Wilk Kalinowski Lis Mazurek Wysocki Adamski Kaźmierczak Wasilewski
      Sobczak Czerwiński Andrzejewski Cieślak Głowacki Zakrzewski Kołodziej Sikorski Krajewski Gajewski
      Szymczak Szulc Baranowski Laskowski Brzeziński Makowski Ziółkowski Przybylski`),
    feminine: (surname) => (/(sk|ck|dzk)i$/.test(surname) ? `${surname.slice(0, -1)}a` : surname),
  },
  german: {
    male: words(`Thomas Michael Andreas Stefan Christian Markus Peter Wolfgang Klaus Jürgen Frank Alexander
      Martin Daniel Sebastian Tobias Jan Lukas Jonas Felix Maximilian Florian Matthias Uwe Dieter Tim Niklas
      Leon Paul Moritz`),
    female: words(`Sabine Petra Monika Andrea Claudia Susanne Stefanie Julia Anna Katharina Laura Lena Sarah
      Lisa Christina Nicole Birgit Ursula Karin Heike Sandra Melanie Johanna Marie Lea Hannah Sophie Emma
      Mia Leonie`),
    last: words(`Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch
      Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange
      Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter Mayer
      Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel Friedrich Keller Günther
      Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon Ludwig Böhm Winter
      Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas`),
  },
  english: {
    male: words(`James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel
      Matthew Anthony Mark Steven Paul Andrew Joshua Kevin Brian George Edward Ryan Jacob Oliver Harry Jack
      Liam Noah Connor Sean Patrick`),
    female: words(`Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Emily
      Emma Olivia Sophie Charlotte Amelia Chloe Hannah Megan Rachel Laura Rebecca Grace Lucy Siobhan Aoife
      Ciara Niamh Abigail Madison`),
    last: words(`Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin
      Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green
      Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins
      Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Bailey Reed Kelly Howard Ward Cox Richardson
      Wood Watson Brooks Bennett Gray Hughes Price Sanders Myers Long Ross Foster Walsh Byrne Ryan O'Brien
      O'Connor O'Sullivan McCarthy Doyle Kennedy Lynch Murray Quinn Patel Khan Ali Singh Lee Wong Tremblay
      Gagnon Roy Bouchard`),
  },
  french: {
    male: words(`Jean Pierre Michel Philippe Alain Nicolas Christophe Patrick Daniel Julien Laurent Frédéric
      Éric Stéphane David Sébastien Thomas Antoine Louis Hugo Lucas Théo Mathis Nathan Gabriel Raphaël
      Arthur Maxime Vincent Olivier`),
    female: words(`Marie Nathalie Isabelle Sylvie Catherine Françoise Valérie Sandrine Christine Sophie Céline
      Julie Camille Manon Léa Chloé Emma Inès Sarah Laura Anne Aurélie Émilie Élodie Claire Juliette Louise
      Alice Jade Margaux`),
    last: words(`Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent
      Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefèvre Mercier Dupont
      Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc Guérin Muller Henry Roussel
      Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez Fontaine Chevalier Robin Masson Sanchez
      Gérard Nguyen Boyer Denis Lemaire Duval Joly Gautier Roger Roche Roy Noël Meyer Lucas Meunier Perez
      Marchand Dufour Blanchard Barbier Brun Dumas Brunet Leroux Colin Fernandez Renard Arnaud Da_Silva
      Le_Gall Lacroix Fabre Dupuis`),
  },
  spanish: {
    male: words(`Antonio José Manuel Francisco David Juan Javier Daniel Carlos Jesús Alejandro Miguel Rafael
      Pablo Sergio Fernando Jorge Luis Alberto Álvaro Diego Adrián Raúl Enrique Ramón Hugo Mario Iván Andrés
      Óscar`),
    female: words(`María Carmen Ana Isabel Laura Cristina Marta Lucía Pilar Elena Rosa Sara Paula Raquel
      Teresa Beatriz Patricia Silvia Julia Irene Alba Andrea Sofía Claudia Nuria Rocío Mónica Noelia Valeria
      Guadalupe`),
    last: words(`García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz
      Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez Ramos Gil
      Ramírez Serrano Blanco Molina Morales Suárez Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez
      Iglesias Medina Garrido Cortés Castillo Santos Lozano Guerrero Cano Prieto Méndez Cruz Calvo Gallego
      Vidal León Márquez Herrera Peña Flores Cabrera Campos Vega Fuentes Carrasco Diez Reyes Caballero
      Nieto Aguilar Pascual Santana Herrero Montero Lorenzo Hidalgo Giménez Ibáñez Ferrer Durán Santiago
      Benítez Mora Vicente Vargas Arias Carmona Crespo Román Pastor Soto Sáez Velasco Moya Soler Parra`),
  },
  portuguese: {
    male: words(`João José António Francisco Carlos Paulo Pedro Lucas Luiz Marcos Luís Gabriel Rafael Daniel
      Marcelo Bruno Eduardo Felipe Raimundo Rodrigo Miguel Tiago Rui Nuno Gonçalo Diogo André Ricardo Vítor
      Manuel`),
    female: words(`Maria Ana Francisca Antônia Adriana Juliana Márcia Fernanda Patrícia Aline Sandra Camila
      Amanda Bruna Jéssica Letícia Júlia Luciana Vanessa Mariana Beatriz Inês Catarina Sofia Leonor Rita
      Joana Carolina Sara Marta`),
    last: words(`Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Jesus Sousa Fernandes
      Gonçalves Gomes Lopes Marques Alves Almeida Ribeiro Pinto Carvalho Teixeira Moreira Correia Mendes
      Nunes Soares Vieira Monteiro Cardoso Rocha Raposo Neves Coelho Cruz Cunha Pires Ramos Reis Simões
      Antunes Matos Fonseca Machado Araújo Barbosa Tavares Lourenço Castro Figueiredo Azevedo Freitas Barros
      Lima Nascimento Moura Batista Dias Campos Melo Cavalcanti`),
  },
  italian: {
    male: words(`Giuseppe Giovanni Antonio Mario Luigi Francesco Angelo Vincenzo Pietro Salvatore Carlo Franco
      Domenico Bruno Paolo Michele Giorgio Aldo Sergio Luciano Marco Alessandro Andrea Matteo Lorenzo
      Leonardo Riccardo Davide Simone Federico`),
    female: words(`Maria Anna Giuseppina Rosa Angela Giovanna Teresa Lucia Carmela Caterina Francesca
      Antonietta Carla Elena Concetta Rita Margherita Sara Giulia Chiara Federica Martina Alessia Sofia
      Aurora Valentina Elisa Silvia Paola Laura`),
    last: words(`Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti
      De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani Rinaldi Caruso
      Ferrara Galli Martini Leone Longo Gentile Martinelli Vitale Lombardo Serra Coppola De_Santis D'Angelo
      Marchetti Parisi Villa Conte Ferraro Ferri Fabbri Bianco Marini Grasso Valentini Messina Sala
      De_Angelis Gatti Pellegrini Palumbo Sanna Farina Rizzi Monti Cattaneo Morelli Amato Silvestri Mazza
      Testa Grassi Pellegrino Carbone Giuliani Benedetti Barone Rossetti Caputo Montanari Guerra Palmieri
      Bernardi Martino Fiore De_Rosa Ferretti Bellini Basile Riva Donati Piras`),
  },
  romanian: {
    male: words(`Ion Gheorghe Vasile Constantin Alexandru Mihai Andrei Nicolae Ștefan Florin Adrian Daniel
      Marian Cristian Dumitru Ionuț Gabriel Bogdan Răzvan Vlad Radu Sorin Cătălin Victor Marius`),
    female: words(`Maria Elena Ioana Ana Mihaela Andreea Cristina Daniela Alexandra Gabriela Florentina Alina
      Nicoleta Monica Irina Simona Roxana Raluca Diana Oana Larisa Bianca Teodora Camelia Corina`),
    last: words(`Popa Popescu Pop Radu Dumitru Stan Stoica Gheorghe Matei Ciobanu Ionescu Rusu Constantin
      Mihai Munteanu Lazăr Marin Florea Dinu Tudor Moldovan Ene Ilie Sandu Preda Dobre Barbu Nistor Cristea
      Ursu Dragomir Lungu Marinescu Toma Zamfir Bălan Neagu Vasile Șerban Andrei Ungureanu Mocanu
      Dumitrescu Georgescu Stanciu Anghel Badea Oprea Voicu Cozma Ceban Rotaru Lupu Cojocaru Țurcanu Bivol
      Cebotari Grosu Guțu Botnari`),
  },
  dutch: {
    male: words(`Jan Johannes Cornelis Hendrik Willem Pieter Gerrit Jacobus Dirk Daan Sem Lucas Milan Levi
      Thijs Bram Ruben Jesse Lars Tim Sven Stijn Niels Bas Joost`),
    female: words(`Maria Johanna Anna Cornelia Wilhelmina Elisabeth Emma Julia Tess Sophie Lotte Fleur Sanne
      Eva Lisa Femke Anouk Iris Noa Saskia Marieke Ingrid Esther Mirjam`),
    last: words(`de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Janssen Visser Smit Meijer de_Boer
      Mulder de_Groot Bos Vos Peters Hendriks van_Leeuwen Dekker Brouwer de_Wit Dijkstra Smits de_Graaf
      van_der_Meer van_der_Linden Kok Jacobs de_Haan Vermeulen van_den_Heuvel van_der_Veen van_den_Broek
      de_Bruijn van_der_Heijden Schouten van_Beek Willems van_Vliet van_de_Ven Hoekstra Maas Verhoeven
      Koster van_Dam van_der_Wal Prins Blom Huisman de_Jonge Kuipers van_Veen Post Kuiper Veenstra Kramer`),
  },
  georgian: {
    male: words(`Giorgi Davit Irakli Levan Nikoloz Aleksandre Luka Zurab Tornike Lasha Giga Beka Saba Nika
      Vakhtang Shota Mamuka Tamaz Revaz Otar`),
    female: words(`Nino Mariam Tamar Ana Ketevan Eka Salome Natia Maia Nana Lika Teona Sopho Tinatin Khatia
      Elene Natela Mzia Lela Manana`),
    last: words(`Beridze Kapanadze Gelashvili Maisuradze Giorgadze Lomidze Tsiklauri Bolkvadze Kvaratskhelia
      Nozadze Khutsishvili Abashidze Mikeladze Tabatadze Chkheidze Dolidze Jorjadze Kiknadze Gogoladze
      Shengelia Gogia Janelidze Tsereteli Kobakhidze Chikovani Melikishvili Japaridze Javakhishvili
      Basilashvili`),
  },
  turkish: {
    male: words(`Mehmet Mustafa Ahmet Ali Hüseyin Hasan İbrahim İsmail Osman Yusuf Murat Ömer Ramazan Halil
      Süleyman Abdullah Mahmut Salih Kemal Emre Burak Can Kerem Eren Yiğit`),
    female: words(`Fatma Ayşe Emine Hatice Zeynep Elif Meryem Şerife Zehra Sultan Hanife Merve Havva Zeliha
      Esra Fadime Özlem Hacer Melek Yasemin Büşra Ebru Derya Selin Ece`),
    last: words(`Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç
      Aslan Çetin Kara Koç Kurt Özkan Şimşek Polat Özcan Korkmaz Çakır Erdoğan Yavuz Can Acar Şen Aktaş
      Güler Yalçın Güneş Bozkurt Bulut Keskin Ünal Turan Gül Özer`),
  },
} satisfies Record<string, Culture>;

// ---------------------------------------------------------------------------------------------
// Countries of residence, weighted like the customer base of an Eastern European platform. In the
// templates `#` is a random digit and `@` a random capital letter.

type AddressStyle = 'street-first' | 'number-first' | 'french' | 'apartment';

interface Country {
  code: CountryCode;
  name: string;
  weight: number;
  culture: keyof typeof cultures;
  style: AddressStyle;
  /** City, and its postcode template. */
  cities: [string, string][];
  streets: string[];
  documents: string[];
  itn: string;
}

const countries: Country[] = [
  {
    code: 'UA',
    name: 'Ukraine',
    weight: 34,
    culture: 'ukrainian',
    style: 'apartment',
    cities: [
      ['Kyiv', '0####'],
      ['Lviv', '79###'],
      ['Kharkiv', '61###'],
      ['Odesa', '65###'],
      ['Dnipro', '49###'],
      ['Vinnytsia', '21###'],
      ['Zaporizhzhia', '69###'],
      ['Ivano-Frankivsk', '76###'],
      ['Poltava', '36###'],
      ['Chernihiv', '14###'],
    ],
    streets: words(`Khreshchatyk_St Shevchenka_Ave Franka_St Hrushevskoho_St Sadova_St Lesi_Ukrainky_Blvd
      Peremohy_Ave Soborna_St Nezalezhnosti_St Zelena_St Velyka_Vasylkivska_St Bandery_St`),
    documents: ['@@######', '#########'],
    itn: '##########',
  },
  {
    code: 'PL',
    name: 'Poland',
    weight: 12,
    culture: 'polish',
    style: 'street-first',
    cities: [
      ['Warszawa', '0#-###'],
      ['Kraków', '3#-###'],
      ['Wrocław', '5#-###'],
      ['Poznań', '6#-###'],
      ['Gdańsk', '80-###'],
      ['Łódź', '9#-###'],
      ['Lublin', '20-###'],
    ],
    streets: words(`ul._Marszałkowska ul._Długa ul._Piotrkowska ul._Floriańska ul._Mickiewicza
      ul._Słowackiego al._Jerozolimskie ul._Kościuszki ul._Polna ul._Ogrodowa`),
    documents: ['@@@######'],
    itn: '###########',
  },
  {
    code: 'DE',
    name: 'Germany',
    weight: 8,
    culture: 'german',
    style: 'street-first',
    cities: [
      ['Berlin', '1####'],
      ['Hamburg', '2####'],
      ['München', '8####'],
      ['Köln', '50###'],
      ['Frankfurt am Main', '60###'],
      ['Leipzig', '04###'],
    ],
    streets: words(`Hauptstraße Schulstraße Bahnhofstraße Gartenstraße Lindenstraße Bergstraße Kirchstraße
      Waldstraße Goethestraße Schillerstraße`),
    documents: ['@########'],
    itn: '###########',
  },
  {
    code: 'GB',
    name: 'United Kingdom',
    weight: 5,
    culture: 'english',
    style: 'number-first',
    cities: [
      ['London', 'SW# #@@'],
      ['Manchester', 'M# #@@'],
      ['Birmingham', 'B## #@@'],
      ['Leeds', 'LS# #@@'],
      ['Glasgow', 'G## #@@'],
      ['Bristol', 'BS# #@@'],
    ],
    streets: words(`High_Street Station_Road Church_Lane Victoria_Road Park_Avenue Mill_Lane Queen_Street
      King's_Road`),
    documents: ['#########'],
    itn: '@@######@',
  },
  {
    code: 'US',
    name: 'United States',
    weight: 5,
    culture: 'english',
    style: 'number-first',
    cities: [
      ['New York, NY', '100##'],
      ['Chicago, IL', '606##'],
      ['Houston, TX', '770##'],
      ['Los Angeles, CA', '900##'],
      ['Philadelphia, PA', '191##'],
      ['Seattle, WA', '981##'],
      ['Boston, MA', '021##'],
      ['Miami, FL', '331##'],
    ],
    streets: words(`Main_St Oak_Ave Maple_Ave Washington_St Park_Ave Elm_St Lake_Dr Cedar_Ln Sunset_Blvd`),
    documents: ['#########'],
    itn: '###-##-####',
  },
  {
    code: 'FR',
    name: 'France',
    weight: 5,
    culture: 'french',
    style: 'french',
    cities: [
      ['Paris', '750##'],
      ['Lyon', '6900#'],
      ['Marseille', '130##'],
      ['Toulouse', '310##'],
      ['Bordeaux', '330##'],
      ['Lille', '590##'],
    ],
    streets: words(`rue_de_la_République avenue_Jean_Jaurès rue_Victor_Hugo boulevard_Voltaire rue_Pasteur
      rue_de_la_Paix avenue_Anatole_France place_de_la_Mairie`),
    documents: ['##@@#####'],
    itn: '# ## ## ## ### ###',
  },
  {
    code: 'ES',
    name: 'Spain',
    weight: 4,
    culture: 'spanish',
    style: 'street-first',
    cities: [
      ['Madrid', '280##'],
      ['Barcelona', '080##'],
      ['Valencia', '460##'],
      ['Sevilla', '410##'],
      ['Málaga', '290##'],
    ],
    streets: words(`Calle_Mayor Gran_Vía Calle_de_Alcalá Avenida_de_la_Constitución Calle_Real
      Paseo_de_Gracia Calle_del_Sol`),
    documents: ['########@'],
    itn: '########@',
  },
  {
    code: 'IT',
    name: 'Italy',
    weight: 4,
    culture: 'italian',
    style: 'street-first',
    cities: [
      ['Roma', '001##'],
      ['Milano', '201##'],
      ['Napoli', '801##'],
      ['Torino', '101##'],
      ['Bologna', '401##'],
      ['Firenze', '501##'],
    ],
    streets: words(`Via_Roma Via_Garibaldi Via_Mazzini Corso_Italia Via_Dante Via_Verdi Piazza_del_Popolo`),
    documents: ['@@#######'],
    itn: '@@@@@@##@##@###@',
  },
  {
    code: 'RO',
    name: 'Romania',
    weight: 3,
    culture: 'romanian',
    style: 'street-first',
    cities: [
      ['București', '0#####'],
      ['Cluj-Napoca', '400###'],
      ['Iași', '700###'],
      ['Timișoara', '300###'],
    ],
    streets: words(`Strada_Victoriei Bulevardul_Unirii Strada_Mihai_Eminescu Strada_Libertății
      Bulevardul_Independenței`),
    documents: ['@@######'],
    itn: '#############',
  },
  {
    code: 'NL',
    name: 'Netherlands',
    weight: 3,
    culture: 'dutch',
    style: 'street-first',
    cities: [
      ['Amsterdam', '10## @@'],
      ['Rotterdam', '30## @@'],
      ['Utrecht', '35## @@'],
      ['Den Haag', '25## @@'],
    ],
    streets: words(`Kerkstraat Dorpsstraat Stationsweg Molenstraat Schoolstraat Prinsengracht Julianalaan`),
    documents: ['@@@@#####'],
    itn: '#########',
  },
  {
    code: 'AT',
    name: 'Austria',
    weight: 2,
    culture: 'german',
    style: 'street-first',
    cities: [
      ['Wien', '1###'],
      ['Graz', '80##'],
      ['Linz', '40##'],
      ['Salzburg', '50##'],
    ],
    streets: words(`Hauptplatz Mariahilfer_Straße Landstraße Bahnhofstraße Kärntner_Straße Ringstraße`),
    documents: ['@#######'],
    itn: '#########',
  },
  {
    code: 'IE',
    name: 'Ireland',
    weight: 2,
    culture: 'english',
    style: 'number-first',
    cities: [
      ['Dublin', 'D0# @@##'],
      ['Cork', 'T12 @@##'],
      ['Galway', 'H91 @@##'],
    ],
    streets: words(`Main_Street O'Connell_Street Grafton_Street Church_Road Patrick_Street`),
    documents: ['@@#######'],
    itn: '#######@',
  },
  {
    code: 'CA',
    name: 'Canada',
    weight: 2,
    culture: 'english',
    style: 'number-first',
    cities: [
      ['Toronto, ON', 'M#@ #@#'],
      ['Montréal, QC', 'H#@ #@#'],
      ['Vancouver, BC', 'V#@ #@#'],
      ['Calgary, AB', 'T#@ #@#'],
    ],
    streets: words(`Yonge_St King_St_W Queen_St_E Rue_Sainte-Catherine Granville_St Bloor_St_W`),
    documents: ['@@######'],
    itn: '### ### ###',
  },
  {
    code: 'BE',
    name: 'Belgium',
    weight: 2,
    culture: 'french',
    style: 'street-first',
    cities: [
      ['Bruxelles', '1000'],
      ['Liège', '4000'],
      ['Namur', '5000'],
      ['Charleroi', '6000'],
    ],
    streets: words(`Rue_de_la_Loi Avenue_Louise Rue_Neuve Chaussée_de_Wavre Rue_du_Marché`),
    documents: ['@@#######'],
    itn: '##.##.##-###.##',
  },
  {
    code: 'PT',
    name: 'Portugal',
    weight: 2,
    culture: 'portuguese',
    style: 'street-first',
    cities: [
      ['Lisboa', '1###-###'],
      ['Porto', '4###-###'],
      ['Braga', '47##-###'],
      ['Coimbra', '30##-###'],
    ],
    streets: words(`Rua_Augusta Avenida_da_Liberdade Rua_de_Santa_Catarina Rua_do_Carmo Rua_Direita`),
    documents: ['@#######'],
    itn: '#########',
  },
  {
    code: 'BR',
    name: 'Brazil',
    weight: 2,
    culture: 'portuguese',
    style: 'street-first',
    cities: [
      ['São Paulo, SP', '0####-###'],
      ['Rio de Janeiro, RJ', '2####-###'],
      ['Belo Horizonte, MG', '3####-###'],
      ['Curitiba, PR', '8####-###'],
    ],
    streets: words(`Rua_das_Flores Avenida_Paulista Rua_XV_de_Novembro Avenida_Atlântica Rua_da_Consolação`),
    documents: ['@@######'],
    itn: '###.###.###-##',
  },
  {
    code: 'TR',
    name: 'Türkiye',
    weight: 2,
    culture: 'turkish',
    style: 'street-first',
    cities: [
      ['İstanbul', '34###'],
      ['Ankara', '06###'],
      ['İzmir', '35###'],
    ],
    streets: words(`Atatürk_Caddesi İstiklal_Caddesi Cumhuriyet_Caddesi Bağdat_Caddesi Gazi_Bulvarı`),
    documents: ['@########'],
    itn: '###########',
  },
  {
    code: 'MD',
    name: 'Moldova',
    weight: 1,
    culture: 'romanian',
    style: 'apartment',
    cities: [
      ['Chișinău', 'MD-20##'],
      ['Bălți', 'MD-31##'],
    ],
    streets: words(`bd._Ștefan_cel_Mare str._Pușkin str._Mihai_Eminescu bd._Dacia`),
    documents: ['@########'],
    itn: '#############',
  },
  {
    code: 'GE',
    name: 'Georgia',
    weight: 1,
    culture: 'georgian',
    style: 'apartment',
    cities: [
      ['Tbilisi', '01##'],
      ['Batumi', '60##'],
      ['Kutaisi', '46##'],
    ],
    streets: words(`Rustaveli_Ave Chavchavadze_Ave Aghmashenebeli_Ave Pekini_St Kazbegi_Ave`),
    documents: ['##@#####'],
    itn: '###########',
  },
];

const comments = [
  'VIP client',
  'Prefers contact by e-mail',
  'Referred by a partner campaign',
  'Verified in branch',
  'Second account, used for business payments',
  'Frequent international transfers',
  'Document expires soon; ask for a renewal',
  'Asked support about card limits',
  'High-value customer, assign a personal manager',
  'Do not call before 10:00',
  'Address change requested',
  'Student programme',
  'Enhanced due diligence completed',
  'Migrated from the legacy platform',
];
const months = words('January February March April May June July August September October November December');
const emailDomains = [
  'example.com',
  'example.net',
  'example.org',
  'mail.example',
  'inbox.example',
  'post.example',
];

// ---------------------------------------------------------------------------------------------
// Random picks.

const randomInt = (below: number) => Math.floor(Math.random() * below);
const chance = (probability: number) => Math.random() < probability;

function pick<T>(items: readonly T[]): T {
  const item = items[randomInt(items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** Picks by weight: cumulative weights and a binary search. */
function weighted<T>(items: readonly T[], weightOf: (item: T, rank: number) => number): () => T {
  const cumulative: number[] = [];
  let total = 0;
  items.forEach((item, rank) => {
    total += weightOf(item, rank);
    cumulative.push(total);
  });
  return () => {
    const target = Math.random() * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((cumulative[middle] ?? 0) > target) high = middle;
      else low = middle + 1;
    }
    return items[low] as T;
  };
}

/** Zipf-like: the name at rank r is drawn with weight 1/(r+1)^s. */
const zipf = <T>(items: readonly T[], s: number) => weighted(items, (_item, rank) => 1 / (rank + 1) ** s);

/** `#` → a digit, `@` → a capital letter, anything else as is. */
const fill = (template: string) =>
  template.replace(/[#@]/g, (char) =>
    char === '#' ? String(randomInt(10)) : String.fromCharCode(65 + randomInt(26)),
  );

/** A mobile number of the country, valid by the same check the API applies (else retried). */
function phoneGenerator(code: CountryCode): () => string {
  const example = getExampleNumber(code, mobileExamples);
  if (example === undefined) throw new Error(`No example mobile number for ${code}`);
  const national: string = example.nationalNumber;
  const random = Math.min(6, national.length - 3);
  const prefix = `+${example.countryCallingCode}${national.slice(0, national.length - random)}`;
  return () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const candidate = prefix + fill('#'.repeat(random));
      if (toE164(candidate) === candidate) return candidate;
    }
    return example.number;
  };
}

const asciiLower = (text: string) =>
  text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[łŁ]/g, 'l')
    .replace(/ı/g, 'i')
    .toLowerCase()
    .replace(/[^a-z]/g, '');

// ---------------------------------------------------------------------------------------------
// Customers.

/**
 * Generates customers. `sequenceStart` numbers them, which makes emails and externalIds unique in
 * one run; a clash with an existing customer is skipped at insert time (ON CONFLICT DO NOTHING).
 */
export function customerGenerator(sequenceStart: number): (referrals: readonly string[]) => CustomerFields {
  for (const country of countries) {
    if (!isAssignedCountryCode(country.code)) throw new Error(`Not an ISO country code: ${country.code}`);
  }
  const countryOf = weighted(countries, (country) => country.weight);
  const names = new Map(
    Object.entries(cultures).map(([key, culture]: [string, Culture]) => [
      key,
      { male: zipf(culture.male, 0.5), female: zipf(culture.female, 0.5), last: zipf(culture.last, 0.5) },
    ]),
  );
  const phones = new Map(countries.map((country) => [country.code, phoneGenerator(country.code)]));
  let sequence = sequenceStart;

  return (referrals) => {
    sequence++;
    const country = countryOf();
    const culture: Culture = cultures[country.culture];
    const picks = names.get(country.culture);
    if (picks === undefined) throw new Error(`No names for ${country.culture}`);
    const female = chance(0.5);
    const firstName = female ? picks.female() : picks.male();
    const surname = picks.last();
    const lastName = female && culture.feminine !== undefined ? culture.feminine(surname) : surname;

    const first = asciiLower(firstName);
    const last = asciiLower(lastName);
    const local = pick([
      `${first}.${last}`,
      `${first}${last}`,
      `${first.charAt(0)}.${last}`,
      `${last}.${first}`,
    ]);
    const [city, postcode] = pick(country.cities);
    const street = pick(country.streets);
    const number = String(1 + randomInt(chance(0.8) ? 60 : 250));
    const address = {
      'street-first': () => `${street} ${number}, ${fill(postcode)} ${city}, ${country.name}`,
      'number-first': () => `${number} ${street}, ${city} ${fill(postcode)}, ${country.name}`,
      french: () => `${number} ${street}, ${fill(postcode)} ${city}, ${country.name}`,
      apartment: () =>
        `${street} ${number}, apt. ${1 + randomInt(180)}, ${city} ${fill(postcode)}, ${country.name}`,
    }[country.style]();
    // Most customers have a phone of their country of residence; some kept the one from home.
    const phoneCountry = chance(0.9) ? country.code : countryOf().code;
    const externalIdKind = Math.random();

    return {
      email: `${local}${sequence}@${pick(emailDomains)}`,
      phoneNumber: chance(0.9) ? (phones.get(phoneCountry)?.() ?? null) : null,
      firstName,
      lastName,
      comment: chance(0.1)
        ? `${pick(comments)}${chance(0.5) ? ` (${pick(months)} ${2019 + randomInt(7)})` : ''}`
        : null,
      externalId:
        externalIdKind < 0.45
          ? randomUUID()
          : externalIdKind < 0.85
            ? `C${String(sequence).padStart(9, '0')}`
            : null,
      referralId: referrals.length > 0 && chance(0.05) ? pick(referrals) : null,
      country: country.code,
      verificationDocumentId: fill(pick(country.documents)),
      residenceAddress: address,
      itn: chance(0.6) ? fill(country.itn) : null,
    };
  };
}

// The columns the API writes on create (customers.repository insertCustomer), sealed as it seals
// them (customer-sealing.ts); wallet status and timestamps come from the same column defaults.
const insertSql = `
  WITH inserted AS (
    INSERT INTO customers (institution_id, email, phone_number, first_name, last_name, comment,
                           external_id, referral_id, country, verification_document_id,
                           residence_address, itn, id, data_key, email_index, phone_index, pii_format)
    SELECT $1::uuid, *, 1 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                      $7::text[], $8::uuid[], $9::text[], $10::text[], $11::text[],
                                      $12::text[], $13::uuid[], $14::bytea[], $15::bytea[], $16::bytea[])
    ON CONFLICT DO NOTHING
    RETURNING id
  )
  INSERT INTO wallets (institution_id, customer_id) SELECT $1::uuid, id FROM inserted
  RETURNING customer_id AS id`;

/**
 * Inserts customers and their wallets in one statement, so a batch commits whole or not at all.
 * Returns the ids of the customers inserted (fewer than given if some clashed with existing ones).
 */
export async function insertCustomers(
  db: Queryable,
  vault: Vault,
  institutionId: string,
  customers: readonly CustomerFields[],
): Promise<string[]> {
  const sealed = await Promise.all(
    customers.map((customer) => sealNewCustomer(vault, institutionId, customer, [])),
  );
  const column = (field: keyof CustomerFields) => sealed.map((customer) => customer.fields[field] ?? null);
  const rows = await db.query<{ id: string }>(insertSql, [
    institutionId,
    column('email'),
    column('phoneNumber'),
    column('firstName'),
    column('lastName'),
    column('comment'),
    column('externalId'),
    column('referralId'),
    column('country'),
    column('verificationDocumentId'),
    column('residenceAddress'),
    column('itn'),
    sealed.map((customer) => customer.id),
    sealed.map((customer) => customer.dataKey),
    sealed.map((customer) => customer.indexes.emailIndex ?? null),
    sealed.map((customer) => customer.indexes.phoneIndex ?? null),
  ]);
  return rows.map((row) => row.id);
}

export interface SeedOptions {
  batchSize?: number;
  onProgress?: (inserted: number) => void;
}

/** Adds `count` customers to the institution, in batches; returns how long it took. */
export async function seedCustomers(
  { db, vault }: { db: Database; vault: Vault },
  institutionId: string,
  count: number,
  options: SeedOptions = {},
): Promise<{ inserted: number; seconds: number }> {
  const started = performance.now();
  const batchSize = options.batchSize ?? (db.engine === 'postgres' ? 5000 : 2000);
  const [existing] = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM customers WHERE institution_id = $1',
    [institutionId],
  );
  const before = existing?.count ?? 0;
  const generate = customerGenerator(before);
  // Referrals name customers inserted earlier: a bounded random sample of them.
  const referrals = (
    await db.query<{ id: string }>(
      'SELECT id FROM customers WHERE institution_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1000',
      [institutionId],
    )
  ).map((row) => row.id);
  const remember = (ids: string[]) => {
    for (const id of ids) {
      if (referrals.length < 5000) referrals.push(id);
      else if (chance(0.05)) referrals[randomInt(referrals.length)] = id;
    }
  };

  // Statistics are refreshed whenever the table has doubled: the plans of the foreign-key checks
  // are made from them, and a plan made when the table was nearly empty scans it whole, for every
  // row inserted, which grows quadratically.
  let analyzedAt = before;

  // The next batch is generated while the database writes the previous one.
  let inserted = 0;
  let inFlight: { size: number; ids: Promise<string[]> } | undefined;
  while (inserted < count || inFlight !== undefined) {
    const wanted = Math.min(batchSize, count - inserted - (inFlight?.size ?? 0));
    const next = wanted > 0 ? Array.from({ length: wanted }, () => generate(referrals)) : undefined;
    if (inFlight !== undefined) {
      const ids = await inFlight.ids;
      inserted += ids.length;
      remember(ids);
      options.onProgress?.(inserted);
      if (before + inserted >= 2 * Math.max(analyzedAt, 1000)) {
        analyzedAt = before + inserted;
        await db.query('ANALYZE customers, wallets');
      }
    }
    inFlight =
      next === undefined
        ? undefined
        : { size: next.length, ids: insertCustomers(db, vault, institutionId, next) };
  }
  return { inserted, seconds: (performance.now() - started) / 1000 };
}

/** Brings planner statistics up to date and flushes the GIN pending lists, as autovacuum would. */
export async function vacuumAnalyze(db: Database): Promise<void> {
  await db.query('VACUUM (ANALYZE) customers');
  await db.query('VACUUM (ANALYZE) wallets');
}

// ---------------------------------------------------------------------------------------------
// Progress bar: one line redrawn in place on a terminal, a line per tenth otherwise (logs, CI).

const formatCount = (value: number) => Math.round(value).toLocaleString('en-US');
const formatDuration = (seconds: number) =>
  `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;

export function progressBar(total: number, label: string, stream: NodeJS.WriteStream = process.stderr) {
  const started = performance.now();
  let lastTenth = -1;
  let lastDraw = 0;
  const line = (done: number) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = done / Math.max(seconds, 1e-3);
    const fraction = total === 0 ? 1 : done / total;
    const width = 30;
    const full = Math.round(fraction * width);
    const eta = rate > 0 ? (total - done) / rate : 0;
    return (
      `${label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(fraction * 100).toFixed(1).padStart(5)}% ` +
      `${formatCount(done)}/${formatCount(total)} ${formatCount(rate)}/s ETA ${formatDuration(eta)}`
    );
  };
  return {
    update: (done: number) => {
      if (stream.isTTY) {
        // Redrawing is cheap, but not free: at most ten times a second.
        if (performance.now() - lastDraw < 100 && done < total) return;
        lastDraw = performance.now();
        stream.write(`\r${line(done)}\x1b[K`);
        return;
      }
      const tenth = Math.floor((done / Math.max(total, 1)) * 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        stream.write(`${line(done)}\n`);
      }
    },
    finish: () => {
      if (stream.isTTY) stream.write('\n');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Command line.

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string' },
      institution: { type: 'string' },
      'database-url': { type: 'string' },
      'batch-size': { type: 'string' },
    },
  });
  const count = Number(values.customers);
  if (values.customers === undefined || !Number.isSafeInteger(count) || count < 1) {
    throw new UsageError('--customers must be a whole number of at least 1');
  }
  const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
  if (batchSize !== undefined && (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 50_000)) {
    throw new UsageError('--batch-size must be a whole number from 1 to 50000');
  }
  if (values.institution !== undefined && !uuidPattern.test(values.institution)) {
    throw new UsageError('--institution must be an institution id (a UUID)');
  }

  // The same sources as the service: the environment, then .env for what it does not set.
  if (existsSync('.env')) process.loadEnvFile('.env');
  const databaseUrl = values['database-url'] ?? (process.env.DATABASE_URL?.trim() || undefined);
  let lock: DataDirLock | undefined;
  let db: Database;
  if (databaseUrl === undefined) {
    const dataDir = process.env.DATA_DIR?.trim() || './data';
    lock = lockDataDir(dataDir);
    db = await openPglite(path.join(dataDir, 'pgdata'));
    process.stderr.write(`Seeding the embedded database in ${dataDir}\n`);
  } else {
    db = openPostgres({
      connectionString: databaseUrl,
      poolSize: 2,
      connectTimeoutMs: 5000,
      // A batch, and the final VACUUM of a large table, take far longer than any API request.
      statementTimeoutMs: 30 * 60_000,
    });
    process.stderr.write('Seeding PostgreSQL from DATABASE_URL\n');
  }

  try {
    await migrate(db);
    let institutionId: string;
    if (values.institution === undefined) {
      const tag = randomUUID().slice(0, 8);
      const created = await createInstitution(db, {
        title: `Seeded institution ${tag}`,
        ownerEmail: `owner.${tag}@seed.example`,
      });
      institutionId = created.id;
      process.stdout.write(
        `Created institution "${created.title}": merchant id ${created.id}\n` +
          `  owner ${created.owner.email}, password (shown once): ${created.owner.password ?? ''}\n`,
      );
    } else {
      const [found] = await db.query<{ title: string }>('SELECT title FROM institutions WHERE id = $1', [
        values.institution,
      ]);
      if (found === undefined) throw new UsageError(`No institution with id ${values.institution}`);
      institutionId = values.institution;
      process.stdout.write(`Adding to institution "${found.title}" (${institutionId})\n`);
    }

    const bar = progressBar(count, 'customers');
    const vault = await openVault(db, seedKeys(databaseUrl));
    const result = await seedCustomers({ db, vault }, institutionId, count, {
      batchSize,
      onProgress: bar.update,
    });
    bar.finish();
    process.stderr.write('Updating statistics (VACUUM ANALYZE)\n');
    await vacuumAnalyze(db);
    const [total] = await db.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM customers WHERE institution_id = $1',
      [institutionId],
    );
    process.stdout.write(
      `Seeded ${formatCount(result.inserted)} customers with their wallets in ${result.seconds.toFixed(1)} s ` +
        `(${formatCount(result.inserted / result.seconds)} customers/s); ` +
        `the institution now has ${formatCount(total?.count ?? 0)}\n`,
    );
  } finally {
    await db.close();
    lock?.release();
  }
}

class UsageError extends Error {}

/** The service's key: ENCRYPTION_KEY (or its _FILE), or the embedded data directory's. */
function seedKeys(databaseUrl: string | undefined): KeyProvider {
  const file = process.env.ENCRYPTION_KEY_FILE?.trim();
  const inline = process.env.ENCRYPTION_KEY?.trim();
  const key = file ? readFileSync(file, 'utf8').trim() : inline;
  if (key === undefined || key === '') {
    if (databaseUrl !== undefined)
      throw new UsageError('ENCRYPTION_KEY (or ENCRYPTION_KEY_FILE) must be set');
    return localKeyProvider(decodeKey(dataDirEncryptionKey(process.env.DATA_DIR?.trim() || './data'), 'key'));
  }
  return localKeyProvider(decodeKey(key, 'ENCRYPTION_KEY'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    const known = error instanceof UsageError || error instanceof DataDirLockedError;
    const text =
      error instanceof Error ? (known ? error.message : (error.stack ?? error.message)) : String(error);
    process.stderr.write(`seed: ${text}\n`);
    if (error instanceof UsageError) {
      process.stderr.write(
        'usage: npm run seed -- --customers N [--institution <id>] [--database-url <url>] [--batch-size B]\n',
      );
    }
    process.exit(1);
  });
}
